//! The OSS wire protocol, pure: what a request means and what a response looks like.
//! Nothing here performs I/O; the server crate feeds it parsed requests.

pub mod auth;
pub mod bucket_config;
pub mod checksum;
pub mod cors;
pub mod error;
// PostObject: the streaming multipart/form-data parser.
pub mod form;
pub mod names;
pub mod object_class;
pub mod post_policy;
pub mod query;
// STS: RAM policies and AssumeRole's tokens and wire format.
pub mod ram;
// Range and If-* headers.
pub mod request_headers;
pub mod route;
pub mod sts;
// Object tags: the tag-set rules and the x-oss-tagging header.
pub mod tagging;
pub mod timefmt;
pub mod xml;

pub use error::OssError;
