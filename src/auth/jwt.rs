//! Access tokens: HS256 JWTs with `sub`, `role`, `iat`, `exp`, `iss`, `ver` and `aud`. Staff
//! tokens (`aud` = `admin`, or absent in tokens issued before customers existed) and customer
//! tokens (`aud` = `storefront`, `role` = `customer`) can never stand in for each other: a token
//! is a customer's only when its audience, role and subject all say so.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::viewer::{Role, Viewer};

/// Issuer of every token.
pub const ISSUER: &str = "techpotli";
/// Audience of staff tokens.
pub const ADMIN_AUDIENCE: &str = "admin";
/// Audience of customer tokens.
pub const STOREFRONT_AUDIENCE: &str = "storefront";

/// Token claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// `admin:<id>` (or `customer:<id>` for storefront tokens).
    pub sub: String,
    /// Staff role, or `customer`.
    pub role: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Always [`ISSUER`].
    pub iss: String,
    /// The account's token version when issued.
    #[serde(default)]
    pub ver: i64,
    /// `admin` or `storefront`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// The token of an `Authorization` header value: `Ok(None)` without a header, `Err` (an invalid
/// viewer) for any other scheme.
pub fn bearer_token(header: Option<&str>) -> Result<Option<&str>, Viewer> {
    let Some(value) = header else {
        return Ok(None);
    };
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(|token| Some(token.trim()))
        .ok_or_else(|| Viewer::Invalid("Authorization must be `Bearer <token>`".into()))
}

/// Signs and verifies tokens with one secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Lifetime of issued tokens.
    pub lifetime: chrono::Duration,
}

impl JwtKeys {
    /// Keys from a secret.
    pub fn new(secret: &[u8], lifetime: chrono::Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            lifetime,
        }
    }

    /// A token for a staff member.
    pub fn issue_admin(
        &self,
        id: i64,
        role: Role,
        version: i64,
    ) -> anyhow::Result<(String, Claims)> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: format!("admin:{id}"),
            role: role.as_str().into(),
            iat: now,
            exp: now + self.lifetime.num_seconds(),
            iss: ISSUER.into(),
            ver: version,
            aud: Some(ADMIN_AUDIENCE.into()),
        };
        Ok((self.sign(&claims)?, claims))
    }

    /// A token for a storefront customer.
    pub fn issue_customer(&self, id: i64, version: i64) -> anyhow::Result<(String, Claims)> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: format!("customer:{id}"),
            role: "customer".into(),
            iat: now,
            exp: now + self.lifetime.num_seconds(),
            iss: ISSUER.into(),
            ver: version,
            aud: Some(STOREFRONT_AUDIENCE.into()),
        };
        Ok((self.sign(&claims)?, claims))
    }

    /// Signs arbitrary claims (tests use it for expired and customer tokens).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        // The audience decides the kind of viewer (`viewer_of`), not whether a token is valid.
        validation.validate_aud = false;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "token expired".to_owned(),
                _ => "invalid token".to_owned(),
            })
    }

    /// The viewer an `Authorization` header value stands for (signature and expiry only).
    pub fn viewer_from_header(&self, header: Option<&str>) -> Viewer {
        match bearer_token(header) {
            Ok(Some(token)) => self.viewer_from_token(token),
            Ok(None) => Viewer::Anonymous,
            Err(viewer) => viewer,
        }
    }

    /// The viewer a raw token stands for (signature and expiry only; staff tokens are checked
    /// against their account by `auth::sessions`).
    pub fn viewer_from_token(&self, token: &str) -> Viewer {
        match self.verify(token) {
            Ok(claims) => Self::viewer_of(&claims),
            Err(reason) => Viewer::Invalid(reason),
        }
    }

    /// The viewer verified claims stand for.
    pub fn viewer_of(claims: &Claims) -> Viewer {
        let id = |prefix: &str| {
            claims
                .sub
                .strip_prefix(prefix)
                .and_then(|s| s.parse::<i64>().ok())
        };
        let audience = claims.aud.as_deref();
        match (claims.role.as_str(), id("admin:"), id("customer:")) {
            ("customer", None, Some(id)) if audience == Some(STOREFRONT_AUDIENCE) => {
                Viewer::Customer { id }
            }
            (role, Some(id), None) if audience.is_none_or(|a| a == ADMIN_AUDIENCE) => {
                match role.parse::<Role>() {
                    Ok(role) => Viewer::Admin { id, role },
                    Err(_) => Viewer::Invalid("invalid token".into()),
                }
            }
            _ => Viewer::Invalid("invalid token".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_ones_are_refused() {
        let keys = JwtKeys::new(
            b"0123456789abcdef0123456789abcdef",
            chrono::Duration::hours(1),
        );
        let (token, _) = keys.issue_admin(7, Role::Content, 1).unwrap();
        assert_eq!(
            keys.viewer_from_header(Some(&format!("Bearer {token}"))),
            Viewer::Admin {
                id: 7,
                role: Role::Content
            }
        );
        let other = JwtKeys::new(
            b"another-secret-another-secret-xx",
            chrono::Duration::hours(1),
        );
        assert_eq!(
            other.viewer_from_token(&token),
            Viewer::Invalid("invalid token".into())
        );
        let now = Utc::now().timestamp();
        let expired = Claims {
            sub: "admin:7".into(),
            role: "owner".into(),
            iat: now - 7200,
            exp: now - 3600,
            iss: ISSUER.into(),
            ver: 1,
            aud: None,
        };
        assert_eq!(
            keys.viewer_from_token(&keys.sign(&expired).unwrap()),
            Viewer::Invalid("token expired".into())
        );
        assert_eq!(
            keys.viewer_from_header(Some("Basic x")),
            Viewer::Invalid("Authorization must be `Bearer <token>`".into())
        );
        assert_eq!(keys.viewer_from_header(None), Viewer::Anonymous);
    }
}
