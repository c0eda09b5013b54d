//! The root access key and the `SecretLookup` that authentication consults.

use ossd_proto::OssError;
use ossd_proto::auth::SecretLookup;

#[derive(Clone)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub access_key_secret: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl SecretLookup for RootCredentials {
    fn secret_for(&self, access_key_id: &str, security_token: Option<&str>) -> Result<String, OssError> {
        if access_key_id != self.access_key_id {
            return Err(OssError::invalid_access_key_id(access_key_id));
        }
        if security_token.is_some() {
            // No STS service issues tokens yet, so no token can be valid for any key.
            return Err(OssError::invalid_access_key_id(access_key_id)
                .with("SecurityToken", "The security token you provided is invalid."));
        }
        Ok(self.access_key_secret.clone())
    }
}
