//! The callback parameters as the uploader sends them.
//!
//! Interface (to implement):
//! ```ignore
//! pub enum BodyType { FormUrlEncoded, Json }
//! pub struct CallbackSpec { pub urls: Vec<CallbackUrl>, pub host: Option<String>, pub body: String,
//!     pub body_type: BodyType, pub sni: bool }
//! impl CallbackSpec { pub fn decode(param_b64: &str) -> Result<CallbackSpec, OssError> }
//! pub struct CallbackVars(pub Vec<(String, String)>);   // "x:name" -> value
//! impl CallbackVars { pub fn decode(param_b64: &str) -> Result<CallbackVars, OssError>;
//!                     pub fn from_form_fields(...) }
//! /// The raw parameters of one request and the carrier they came by.
//! pub struct CallbackParams { pub callback: String, pub callback_var: Option<String> }
//! pub fn from_headers_or_query(headers: &http::HeaderMap, query: &[(String, String)])
//!     -> Result<Option<CallbackParams>, OssError>
//! ```
