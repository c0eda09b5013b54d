//! Bucket callback policies (`PUT/GET/DELETE /?policy&comp=callback`): named `callback` /
//! `callback-var` pairs stored on a bucket, which an upload uses by sending
//! `{"callbackPolicy":"<name>"}` as its `callback` parameter (oss2
//! `put_bucket_callback_policy` and `examples/bucket_callback_policy.py`).
//!
//! The document, as oss2 writes and reads it:
//! `<BucketCallbackPolicy><PolicyItem><PolicyName/><Callback/><CallbackVar/></PolicyItem>…`, with
//! `Callback` and `CallbackVar` the base64 parameters (an empty `CallbackVar` when there is none).

use ossd_proto::OssError;
use ossd_proto::xml::{self, XmlWriter};
use serde::{Deserialize, Serialize};

use crate::spec::{CallbackSpec, CallbackVars};

/// Most policies on one bucket. OSS documents no number; this bounds the stored document.
pub const MAX_POLICIES: usize = 100;
/// Longest policy name (not documented by OSS either).
pub const MAX_NAME_BYTES: usize = 255;

/// One named callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyItem {
    pub name: String,
    /// The base64 `callback` parameter.
    pub callback: String,
    /// The base64 `callback-var` parameter; empty when there is none.
    pub callback_var: String,
}

/// A bucket's callback policies, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketCallbackPolicy {
    pub items: Vec<PolicyItem>,
}

#[derive(Deserialize)]
struct XmlDoc {
    #[serde(rename = "PolicyItem", default)]
    items: Vec<XmlItem>,
}

#[derive(Deserialize)]
struct XmlItem {
    #[serde(rename = "PolicyName", default)]
    name: Option<String>,
    #[serde(rename = "Callback", default)]
    callback: Option<String>,
    #[serde(rename = "CallbackVar", default)]
    callback_var: Option<String>,
}

fn invalid(msg: String) -> OssError {
    OssError::invalid_argument(msg)
}

impl BucketCallbackPolicy {
    /// Parses a PutBucketCallbackPolicy body. Each item needs a unique non-empty name and a
    /// `Callback` that decodes as a complete callback (the checks of [`CallbackSpec::decode`],
    /// with their EC codes), so a broken policy is refused when it is stored rather than on
    /// every upload that names it. An empty document (oss2 sends one for `None`) is accepted.
    pub fn from_xml(body: &str) -> Result<BucketCallbackPolicy, OssError> {
        let doc: XmlDoc = xml::parse(body)?;
        if doc.items.len() > MAX_POLICIES {
            return Err(invalid(format!("A bucket holds at most {MAX_POLICIES} callback policies.")));
        }
        let mut items: Vec<PolicyItem> = Vec::with_capacity(doc.items.len());
        for it in doc.items {
            let name = it.name.unwrap_or_default().trim().to_string();
            if name.is_empty() || name.len() > MAX_NAME_BYTES {
                return Err(invalid(format!("A PolicyName must have 1 to {MAX_NAME_BYTES} bytes.")));
            }
            // The name travels in a header of the callback (see `deliver`).
            if http::HeaderValue::from_str(&name).is_err() {
                return Err(invalid(format!("The PolicyName {name:?} has a control character.")));
            }
            if items.iter().any(|i| i.name == name) {
                return Err(invalid(format!("The PolicyName {name:?} is given more than once.")));
            }
            let callback = it.callback.unwrap_or_default().trim().to_string();
            CallbackSpec::decode(&callback)?;
            let callback_var = it.callback_var.unwrap_or_default().trim().to_string();
            if !callback_var.is_empty() {
                CallbackVars::decode(&callback_var)?;
            }
            items.push(PolicyItem { name, callback, callback_var });
        }
        Ok(BucketCallbackPolicy { items })
    }

    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open("BucketCallbackPolicy");
        for it in &self.items {
            w.open("PolicyItem");
            w.elem("PolicyName", &it.name);
            w.elem("Callback", &it.callback);
            w.elem("CallbackVar", &it.callback_var);
            w.close("PolicyItem");
        }
        w.close("BucketCallbackPolicy");
        w.finish()
    }

    /// The policy an upload names.
    pub fn get(&self, name: &str) -> Option<&PolicyItem> {
        self.items.iter().find(|i| i.name == name)
    }
}
