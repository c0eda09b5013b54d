//! V4 signatures (OSS4-HMAC-SHA256): header and presigned URLs.
