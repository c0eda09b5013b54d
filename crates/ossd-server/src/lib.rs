//! The ossd HTTP service. A request travels: [`service`] (request id, routing, authentication,
//! access) -> one handler in [`handlers`] per operation family -> the stores -> (callbacks) ->
//! response. Handlers stay thin: protocol rules live in `ossd-proto`, callbacks in
//! `ossd-callback`, durability in `ossd-store`.

pub mod access;
pub mod access_log;
// STS: authorisation by RAM policy for temporary credentials.
pub mod authz;
pub mod body;
pub mod bucket_lifecycle;
pub mod callbacks;
pub mod context;
pub mod credentials;
pub mod handlers;
pub mod metrics;
// Health, metrics, the console and its JSON API under `/_ossd/`.
pub mod limits;
pub mod ops;
pub mod response;
pub mod server;
pub mod service;
pub mod state;
// STS: the AssumeRole endpoint.
pub mod sts;
pub mod tls;

pub use server::serve;
pub use state::{AppState, OpsConfig, ServerConfig};
