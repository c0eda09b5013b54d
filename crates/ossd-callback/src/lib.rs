//! OSS upload callbacks (shared spec callback.md), usable on their own:
//! - [`spec`]: `CallbackSpec` / `CallbackVars`: decode and validate the `callback` and
//!   `callback-var` parameters (the 400 `InvalidArgument` cases with their EC codes), and pick
//!   the one carrier a request used.
//! - [`render`]: `${var}` substitution into form or JSON bodies.
//! - [`sign`]: `CallbackSigner`, RSA PKCS#1 v1.5 over MD5, as OSS signs.
//! - [`verify`]: verification for people who write callback receivers (public API).
//! - [`deliver`]: the pooled HTTP client, destination policy, timeouts, failover, and the
//!   outcome that becomes the uploader's 200 or 203.
//! - [`policy`]: bucket callback policies (named callbacks an upload refers to).
//! - [`oss_mode`]: `--callback-mode oss`, refusing up front what real OSS refuses.
//! - [`diagnose`]: the common mistakes visible in a logged callback.

#[cfg(feature = "deliver")]
pub mod deliver;
#[cfg(feature = "deliver")]
pub mod diagnose;
#[cfg(feature = "deliver")]
pub mod oss_mode;
pub mod policy;
pub mod render;
#[cfg(feature = "deliver")]
pub mod sign;
pub mod spec;
#[cfg(feature = "deliver")]
pub mod verify;
