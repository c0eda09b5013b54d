//! V1 signatures (HMAC-SHA1): header `Authorization: OSS ak:sig` and presigned URLs.
