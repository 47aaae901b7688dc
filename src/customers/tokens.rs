//! Single-use secrets sent by mail (email verification, password reset): 256 random bits,
//! URL-safe; only their SHA-256 is stored, so a database dump holds no working link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// A fresh token (43 URL-safe characters).
pub fn generate() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for `token`: lower-case hex SHA-256.
pub fn digest(token: &str) -> String {
    crate::cache::keys::hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of one we issue (anything else is refused without a query).
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_well_formed_and_hashed() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert!(!well_formed("short") && !well_formed(&format!("{}!", &a[..42])));
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }
}
