//! The root access key and the credential provider (`SecretLookup`) that authentication
//! consults: the root key, and temporary STS keys whose security tokens verify.

use ossd_proto::OssError;
use ossd_proto::auth::SecretLookup;
use ossd_proto::sts::{Issuer, TokenError};
use std::sync::Arc;

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

/// The root key alone: a security token is never valid for it.
impl SecretLookup for RootCredentials {
    fn secret_for(&self, access_key_id: &str, security_token: Option<&str>) -> Result<String, OssError> {
        if access_key_id != self.access_key_id {
            return Err(OssError::invalid_access_key_id(access_key_id));
        }
        if security_token.is_some() {
            return Err(invalid_token(access_key_id));
        }
        Ok(self.access_key_secret.clone())
    }
}

fn invalid_token(access_key_id: &str) -> OssError {
    OssError::invalid_access_key_id(access_key_id).with("SecurityToken", "The security token you provided is invalid.")
}

/// What authentication knows: the root key, and (with STS set up) the issuer whose key
/// verifies security tokens and derives temporary secrets. (STS: replaces the bare
/// `RootCredentials` in `ServerConfig`.)
#[derive(Clone, Debug)]
pub struct CredentialProvider {
    pub root: RootCredentials,
    pub sts: Option<Arc<Issuer>>,
}

impl From<RootCredentials> for CredentialProvider {
    fn from(root: RootCredentials) -> Self {
        CredentialProvider { root, sts: None }
    }
}

/// Code written against the bare root key (e.g. the bucket owner shown in listings) reads
/// `credentials.access_key_id` as before.
impl std::ops::Deref for CredentialProvider {
    type Target = RootCredentials;
    fn deref(&self) -> &RootCredentials {
        &self.root
    }
}

impl CredentialProvider {
    pub fn is_root(&self, access_key_id: &str) -> bool {
        access_key_id == self.root.access_key_id
    }
}

impl SecretLookup for CredentialProvider {
    /// Without a token: the root key. With one: the token must verify, carry this
    /// AccessKeyId and not have expired; the secret is then derived from the AccessKeyId.
    fn secret_for(&self, access_key_id: &str, security_token: Option<&str>) -> Result<String, OssError> {
        let Some(token) = security_token else { return self.root.secret_for(access_key_id, None) };
        let Some(issuer) = &self.sts else { return Err(invalid_token(access_key_id)) };
        if self.is_root(access_key_id) {
            return Err(invalid_token(access_key_id));
        }
        match issuer.key.verify(token, access_key_id, ossd_proto::timefmt::now_ms() / 1000) {
            Ok(_) => Ok(issuer.key.secret_for(access_key_id)),
            Err(TokenError::Expired) => Err(OssError::security_token_expired()),
            Err(TokenError::Invalid) => Err(invalid_token(access_key_id)),
        }
    }
}
