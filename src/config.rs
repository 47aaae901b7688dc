//! Configuration from the environment (see `.env.example` for every variable).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

/// Deployment environment; production refuses unsafe defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Local development and tests.
    Development,
    /// Production.
    Production,
}

/// PostgreSQL settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://…` URL.
    pub url: String,
    /// Maximum pooled connections.
    pub pool_size: u32,
    /// How long a request waits for a connection before failing with `SERVICE_UNAVAILABLE`.
    pub acquire_timeout: Duration,
}

/// Everything the server reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Deployment environment.
    pub env: AppEnv,
    /// Address the HTTP server binds.
    pub bind_addr: SocketAddr,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Redis URL; absent means in-process cache and event bus (single instance).
    pub redis_url: Option<String>,
    /// Cache settings.
    pub cache: CacheConfig,
    /// Run only registered persisted queries (production allow-list).
    pub persisted_queries_only: bool,
    /// Root of the local file store served under `/files/`.
    pub files_dir: std::path::PathBuf,
    /// Public URL prefix of the local file store.
    pub files_public_url: String,
    /// Upload bucket; the local file store when absent.
    pub s3: Option<S3Config>,
    /// Largest accepted upload.
    pub upload_max_bytes: usize,
    /// Secret that signs access tokens.
    pub jwt_secret: String,
    /// Lifetime of issued access tokens.
    pub jwt_lifetime: chrono::Duration,
}

/// An S3-compatible bucket for uploads (Cloudflare R2, MinIO, AWS S3).
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Custom endpoint, e.g. `https://<account>.r2.cloudflarestorage.com`; AWS when absent.
    pub endpoint: Option<String>,
    /// Region (`auto` for R2, `us-east-1` for MinIO).
    pub region: String,
    /// Bucket.
    pub bucket: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Path-style addressing (`endpoint/bucket/key`), needed by MinIO and most local servers.
    pub force_path_style: bool,
    /// Public URL prefix of stored objects (R2 custom domain or `https://pub-….r2.dev`).
    pub public_url: String,
}

/// The development-only signing secret; refused in production.
pub const DEV_JWT_SECRET: &str = "techpotli-development-secret-do-not-use-in-production";

/// Cache settings.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Off: every read goes to the database (benchmarks of the uncached path, debugging).
    pub enabled: bool,
    /// Prepended to every key, so deployments (and tests) can share one Redis.
    pub prefix: String,
    /// Bound on every Redis operation, connection checkout included.
    pub timeout: Duration,
    /// Budget of the in-process cache used without Redis.
    pub memory_bytes: usize,
}

/// Default database for local development and the demo.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/techpotli";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads configuration through `get` (the environment in production, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let env = match get("APP_ENV").as_deref() {
            None | Some("development" | "dev" | "test") => AppEnv::Development,
            Some("production" | "prod") => AppEnv::Production,
            Some(other) => {
                anyhow::bail!("APP_ENV must be development or production, not `{other}`")
            }
        };
        let bind_addr = get("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .context("BIND_ADDR must be host:port")?;
        let url = match (get("DATABASE_URL"), env) {
            (Some(url), _) => url,
            (None, AppEnv::Development) => DEFAULT_DATABASE_URL.into(),
            (None, AppEnv::Production) => anyhow::bail!("DATABASE_URL is required in production"),
        };
        let pool_size = get("DATABASE_POOL_SIZE")
            .map(|v| v.parse())
            .transpose()
            .context("DATABASE_POOL_SIZE")?;
        let acquire_ms: Option<u64> = get("DATABASE_ACQUIRE_TIMEOUT_MS")
            .map(|v| v.parse())
            .transpose()
            .context("DATABASE_ACQUIRE_TIMEOUT_MS")?;
        Ok(Self {
            env,
            bind_addr,
            database: DatabaseConfig {
                url,
                pool_size: pool_size.unwrap_or(16),
                acquire_timeout: Duration::from_millis(acquire_ms.unwrap_or(5_000)),
            },
            redis_url: get("REDIS_URL").or_else(|| get("CACHE_REDIS_URL")),
            cache: CacheConfig {
                enabled: parse_bool(get("CACHE_ENABLED"), true).context("CACHE_ENABLED")?,
                prefix: get("CACHE_PREFIX").unwrap_or_else(|| "techpotli:".into()),
                timeout: Duration::from_millis(
                    parse_num(get("CACHE_TIMEOUT_MS"), 50).context("CACHE_TIMEOUT_MS")?,
                ),
                memory_bytes: usize::try_from(
                    parse_num(get("CACHE_MEMORY_MB"), 64).context("CACHE_MEMORY_MB")? * 1024 * 1024,
                )
                .context("CACHE_MEMORY_MB")?,
            },
            persisted_queries_only: parse_bool(get("PERSISTED_QUERIES_ONLY"), false)
                .context("PERSISTED_QUERIES_ONLY")?,
            files_dir: get("FILES_DIR")
                .unwrap_or_else(|| "var/files".into())
                .into(),
            files_public_url: get("FILES_PUBLIC_URL").unwrap_or_else(|| "/files".into()),
            s3: match get("S3_BUCKET") {
                None => None,
                Some(bucket) => Some(S3Config {
                    endpoint: get("S3_ENDPOINT"),
                    region: get("S3_REGION").unwrap_or_else(|| "auto".into()),
                    access_key_id: get("S3_ACCESS_KEY_ID")
                        .context("S3_ACCESS_KEY_ID is required with S3_BUCKET")?,
                    secret_access_key: get("S3_SECRET_ACCESS_KEY")
                        .context("S3_SECRET_ACCESS_KEY is required with S3_BUCKET")?,
                    force_path_style: parse_bool(get("S3_FORCE_PATH_STYLE"), false)
                        .context("S3_FORCE_PATH_STYLE")?,
                    public_url: get("S3_PUBLIC_URL")
                        .context("S3_PUBLIC_URL is required with S3_BUCKET")?,
                    bucket,
                }),
            },
            upload_max_bytes: usize::try_from(
                parse_num(get("UPLOAD_MAX_BYTES"), 5 * 1024 * 1024).context("UPLOAD_MAX_BYTES")?,
            )
            .context("UPLOAD_MAX_BYTES")?,
            jwt_secret: match (get("JWT_SECRET"), env) {
                (Some(s), AppEnv::Production) if s.len() < 32 || s == DEV_JWT_SECRET => {
                    anyhow::bail!("JWT_SECRET must be at least 32 random characters in production")
                }
                (Some(s), _) => s,
                (None, AppEnv::Production) => anyhow::bail!("JWT_SECRET is required in production"),
                (None, AppEnv::Development) => DEV_JWT_SECRET.into(),
            },
            jwt_lifetime: chrono::Duration::minutes(
                i64::try_from(
                    parse_num(get("JWT_LIFETIME_MINUTES"), 12 * 60)
                        .context("JWT_LIFETIME_MINUTES")?,
                )
                .context("JWT_LIFETIME_MINUTES")?,
            ),
        })
    }
}

fn parse_bool(value: Option<String>, default: bool) -> anyhow::Result<bool> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => anyhow::bail!("expected true or false, not `{other}`"),
    }
}

fn parse_num(value: Option<String>, default: u64) -> anyhow::Result<u64> {
    value.map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| anyhow::anyhow!("expected a number, not `{v}`"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_suit_local_development() {
        let c = from(&[]).unwrap();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.url, DEFAULT_DATABASE_URL);
        assert!(c.redis_url.is_none());
    }

    #[test]
    fn redis_url_accepts_the_design_name_too() {
        let c = from(&[("CACHE_REDIS_URL", "redis://127.0.0.1:6379")]).unwrap();
        assert_eq!(c.redis_url.as_deref(), Some("redis://127.0.0.1:6379"));
    }

    #[test]
    fn production_requires_a_database_url_and_rejects_bad_values() {
        assert!(from(&[("APP_ENV", "production")]).is_err());
        let prod = [
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://db/x"),
        ];
        assert!(from(&prod).is_err(), "no JWT_SECRET");
        assert!(from(&[prod[0], prod[1], ("JWT_SECRET", "short")]).is_err());
        assert!(from(&[prod[0], prod[1], ("JWT_SECRET", DEV_JWT_SECRET)]).is_err());
        assert!(
            from(&[
                prod[0],
                prod[1],
                ("JWT_SECRET", "k3Jx9vQ2mL7pR4tW8yB1nC6fH0aS5dE2")
            ])
            .is_ok()
        );
        assert!(from(&[("BIND_ADDR", "nope")]).is_err());
        assert!(from(&[("APP_ENV", "staging")]).is_err());
        assert!(from(&[("CACHE_ENABLED", "maybe")]).is_err());
        assert!(from(&[("CACHE_TIMEOUT_MS", "soon")]).is_err());
    }
}
