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

#[cfg(test)]
mod tests {
    use super::*;
    use ossd_proto::sts::{AssumeRoleParams, Role, TokenKey};
    use serde_json::json;

    const ARN: &str = "acs:ram::1234:role/r";

    fn provider() -> CredentialProvider {
        let policy = json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}]});
        let issuer = Issuer {
            key: TokenKey::new(b"unit-test-key".to_vec()),
            roles: vec![Role::new("r", ARN, policy, 3600).unwrap()],
            min_duration_seconds: 1,
        };
        let root = RootCredentials { access_key_id: "root".into(), access_key_secret: "root-secret".into() };
        CredentialProvider { root, sts: Some(Arc::new(issuer)) }
    }

    fn issue(p: &CredentialProvider, duration: &str, now: i64) -> ossd_proto::sts::Credentials {
        let params = AssumeRoleParams {
            role_arn: Some(ARN),
            role_session_name: Some("s1"),
            duration_seconds: Some(duration),
            policy: None,
        };
        p.sts.as_ref().unwrap().assume_role(&params, now, "abc").unwrap().1
    }

    #[test]
    fn root_and_temporary_keys() {
        let p = provider();
        let now = ossd_proto::timefmt::now_ms() / 1000;
        assert_eq!(p.secret_for("root", None).unwrap(), "root-secret");
        assert_eq!(p.secret_for("other", None).unwrap_err().code, "InvalidAccessKeyId");
        let c = issue(&p, "900", now);
        assert_eq!(p.secret_for(&c.access_key_id, Some(&c.security_token)).unwrap(), c.access_key_secret);
        // The temporary key needs its token; the root key may not carry one.
        assert_eq!(p.secret_for(&c.access_key_id, None).unwrap_err().code, "InvalidAccessKeyId");
        let e = p.secret_for("root", Some(&c.security_token)).unwrap_err();
        assert_eq!(e.code, "InvalidAccessKeyId");
        assert!(e.extra.iter().any(|(k, _)| *k == "SecurityToken"));
        assert_eq!(p.secret_for("STS.other", Some(&c.security_token)).unwrap_err().code, "InvalidAccessKeyId");
        let tampered = c.security_token.replacen('e', "f", 1);
        assert_eq!(p.secret_for(&c.access_key_id, Some(&tampered)).unwrap_err().code, "InvalidAccessKeyId");
        let old = issue(&p, "10", now - 20);
        let e = p.secret_for(&old.access_key_id, Some(&old.security_token)).unwrap_err();
        assert_eq!((e.status, e.code), (403, "SecurityTokenExpired"));
        // Without STS, no token is valid.
        let bare: CredentialProvider = p.root.clone().into();
        assert_eq!(bare.secret_for(&c.access_key_id, Some(&c.security_token)).unwrap_err().code, "InvalidAccessKeyId");
        assert!(!format!("{p:?}").contains("root-secret"));
    }
}
