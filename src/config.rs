//! Configuration from the environment (see `.env.example` for every variable).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use crate::graphql::limits::Limits;
use crate::throttle::{BucketLimits, ThrottleConfig};

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
    /// Bounds on request bodies, documents and variables.
    pub limits: Limits,
    /// Query cost maximum and the leaky buckets.
    pub throttle: ThrottleConfig,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, the CDN).
    pub trusted_proxies: Vec<IpNet>,
    /// Files in one multipart request.
    pub upload_max_files: usize,
    /// Time a whole multipart request may take to arrive.
    pub upload_deadline: Duration,
    /// Active subscriptions on one WebSocket.
    pub ws_max_subscriptions: usize,
    /// How long a SIGTERM drain may take before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// How long a SIGTERM'd instance keeps serving while `/readyz` reports it not ready.
    pub shutdown_delay: Duration,
    /// Password hashes computed at once (sign-ins beyond wait briefly, then are refused).
    pub password_concurrency: usize,
    /// Schema introspection (`__schema`, `__type`) and field suggestions in errors.
    pub introspection: bool,
    /// The GraphiQL page at `/graphiql`.
    pub graphiql: bool,
    /// Bearer token `/metrics` requires; open when absent (development only).
    pub metrics_token: Option<String>,
    /// Origins allowed by CORS; none by default.
    pub cors_origins: Vec<String>,
    /// The job queue's workers.
    pub jobs: JobsConfig,
    /// Outgoing mail.
    pub mail: MailConfig,
    /// Storefront accounts.
    pub customers: CustomersConfig,
    /// Razorpay, when all of `RAZORPAY_KEY_ID`, `RAZORPAY_KEY_SECRET` and
    /// `RAZORPAY_WEBHOOK_SECRET` are set.
    pub razorpay: Option<RazorpayConfig>,
    /// Whether the `manual` payment provider may be used (`PAYMENTS_MANUAL`; on in development,
    /// off in production: it marks orders paid without moving money).
    pub payments_manual: bool,
    /// The CDN in front of `GET /graphql`: which surrogate-key headers to send and how to purge.
    pub cdn: CdnConfig,
}

/// Job queue settings (`JOBS_*`).
#[derive(Debug, Clone, Copy)]
pub struct JobsConfig {
    /// Jobs one process runs at once (`JOBS_CONCURRENCY`, default 4; 0 in `serve` runs none).
    pub concurrency: usize,
    /// How long a claim holds before another worker may take the job (`JOBS_LEASE_SECS`, 60).
    /// Running handlers renew it every third of that.
    pub lease: Duration,
    /// Attempts before a job is `dead` (`JOBS_MAX_ATTEMPTS`, 10).
    pub max_attempts: i32,
    /// First retry delay; doubled per attempt with ±50 % jitter, at most an hour
    /// (`JOBS_RETRY_BASE_MS`, 2000).
    pub retry_base: Duration,
    /// How often an idle worker looks for due jobs (`JOBS_POLL_MS`, 1000); jobs enqueued by this
    /// process wake it at once.
    pub poll_interval: Duration,
}

/// Mail settings.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://user:pass@host:587?tls=required`, `smtps://…:465`; without it mail is logged.
    pub smtp_url: Option<String>,
    /// The `From` header (`MAIL_FROM`).
    pub from: String,
    /// Links in mail point here (`STOREFRONT_URL`).
    pub storefront_url: String,
    /// The shop's name in mail (`SHOP_NAME`).
    pub shop_name: String,
}

/// Razorpay account settings.
#[derive(Clone)]
pub struct RazorpayConfig {
    /// `rzp_live_…` / `rzp_test_…` (public: the storefront's Checkout needs it).
    pub key_id: String,
    /// API secret; also signs Checkout's payment responses.
    pub key_secret: String,
    /// Signs webhooks (set in the Razorpay dashboard).
    pub webhook_secret: String,
    /// `https://api.razorpay.com` (`RAZORPAY_API_URL`, for tests).
    pub api_url: String,
    /// Whether the account captures payments by itself (`RAZORPAY_AUTO_CAPTURE`, default true);
    /// when false, the server captures each authorized payment.
    pub auto_capture: bool,
    /// How long one API call may take (`RAZORPAY_API_TIMEOUT_MS`, 10,000).
    pub timeout: Duration,
}

impl std::fmt::Debug for RazorpayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RazorpayConfig")
            .field("key_id", &self.key_id)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Where purges go (`CDN_PURGER`).
#[derive(Clone, PartialEq, Eq)]
pub enum CdnTarget {
    /// No CDN to purge (the default): responses keep their tags, nothing is sent.
    None,
    /// `PURGE /` with an `xkey-purge` / `xkey-softpurge` header to each Varnish (`CDN_PURGE_URLS`).
    Varnish {
        /// Base URLs, e.g. `http://10.0.0.5:6081`.
        hosts: Vec<String>,
    },
    /// Fastly's purge-by-surrogate-key API.
    Fastly {
        /// `https://api.fastly.com` (`CDN_API_URL`, for tests).
        api_url: String,
        /// `CDN_SERVICE_ID`.
        service_id: String,
        /// `CDN_API_TOKEN` (sent as `Fastly-Key`).
        token: String,
    },
    /// Cloudflare's purge-by-cache-tag API.
    Cloudflare {
        /// `https://api.cloudflare.com/client/v4` (`CDN_API_URL`, for tests).
        api_url: String,
        /// `CDN_ZONE_ID`.
        zone_id: String,
        /// `CDN_API_TOKEN` (a bearer token with the Cache Purge permission).
        token: String,
    },
    /// A JSON `POST` of the keys to each URL (`CDN_PURGE_URLS`), for any other CDN.
    Webhook {
        /// Where to post.
        urls: Vec<String>,
        /// `CDN_API_TOKEN`, sent as a bearer token when set.
        token: Option<String>,
    },
}

impl CdnTarget {
    /// The `CDN_PURGER` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Varnish { .. } => "varnish",
            Self::Fastly { .. } => "fastly",
            Self::Cloudflare { .. } => "cloudflare",
            Self::Webhook { .. } => "webhook",
        }
    }
}

/// CDN settings (`CDN_*`).
#[derive(Clone)]
pub struct CdnConfig {
    /// Where purges go.
    pub target: CdnTarget,
    /// Soft purges (`CDN_SOFT_PURGE`, default true): Varnish and Fastly mark objects stale and
    /// keep them only to serve while the origin is failing.
    pub soft: bool,
    /// How long the CDN may keep a public response (`Surrogate-Control: max-age`,
    /// `CDN_MAX_AGE_SECS`, default 3600), sent only when a purger is configured: browsers keep
    /// `Cache-Control` as before.
    pub edge_max_age: u32,
    /// Send `Cache-Tag` (comma-separated) beside `Surrogate-Key` (`CDN_TAG_HEADERS` has
    /// `cache-tag`; on by default with the Cloudflare purger).
    pub cache_tag_header: bool,
    /// Send `xkey` beside `Surrogate-Key` (`CDN_TAG_HEADERS` has `xkey`).
    pub xkey_header: bool,
    /// Purge the same keys again this long after the first purge (`CDN_PURGE_REPEAT_MS`, default
    /// 2000; 0 turns it off): a CDN fetch that read the old data before the write committed and
    /// landed after the first purge is gone too.
    pub repeat_after: Option<Duration>,
    /// How long one purge call may take (`CDN_PURGE_TIMEOUT_MS`, 5000).
    pub timeout: Duration,
    /// How long a write waits for its own purge before answering (`CDN_PURGE_WAIT_MS`, 1000;
    /// 0: never, the workers send every purge).
    pub wait: Option<Duration>,
}

impl std::fmt::Debug for CdnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the API token.
        f.debug_struct("CdnConfig")
            .field("purger", &self.target.name())
            .field("soft", &self.soft)
            .field("edge_max_age", &self.edge_max_age)
            .finish_non_exhaustive()
    }
}

impl CdnConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let list = |name: &str| -> Vec<String> {
            get(name)
                .unwrap_or_default()
                .split(',')
                .map(|u| u.trim().trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty())
                .collect()
        };
        let required = |name: &str, purger: &str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("CDN_PURGER={purger} needs {name}"))
        };
        let api_url = |default: &str| {
            get("CDN_API_URL")
                .unwrap_or_else(|| default.into())
                .trim_end_matches('/')
                .to_owned()
        };
        let purger = get("CDN_PURGER").unwrap_or_else(|| "none".into());
        let target = match purger.as_str() {
            "none" | "" => CdnTarget::None,
            "varnish" => CdnTarget::Varnish {
                hosts: Some(list("CDN_PURGE_URLS"))
                    .filter(|h| !h.is_empty())
                    .context("CDN_PURGER=varnish needs CDN_PURGE_URLS")?,
            },
            "fastly" => CdnTarget::Fastly {
                api_url: api_url("https://api.fastly.com"),
                service_id: required("CDN_SERVICE_ID", "fastly")?,
                token: required("CDN_API_TOKEN", "fastly")?,
            },
            "cloudflare" => CdnTarget::Cloudflare {
                api_url: api_url("https://api.cloudflare.com/client/v4"),
                zone_id: required("CDN_ZONE_ID", "cloudflare")?,
                token: required("CDN_API_TOKEN", "cloudflare")?,
            },
            "webhook" => CdnTarget::Webhook {
                urls: Some(list("CDN_PURGE_URLS"))
                    .filter(|u| !u.is_empty())
                    .context("CDN_PURGER=webhook needs CDN_PURGE_URLS")?,
                token: get("CDN_API_TOKEN").filter(|t| !t.is_empty()),
            },
            other => anyhow::bail!(
                "CDN_PURGER: expected none, varnish, fastly, cloudflare or webhook, not `{other}`"
            ),
        };
        let headers = get("CDN_TAG_HEADERS").map(|h| h.to_ascii_lowercase());
        let wants = |name: &str| {
            headers
                .as_deref()
                .is_some_and(|h| h.split(',').any(|x| x.trim() == name))
        };
        let repeat_ms = num::<u64>(get, "CDN_PURGE_REPEAT_MS", 2_000)?;
        Ok(Self {
            cache_tag_header: wants("cache-tag")
                || (headers.is_none() && matches!(target, CdnTarget::Cloudflare { .. })),
            xkey_header: wants("xkey"),
            soft: parse_bool(get("CDN_SOFT_PURGE"), true).context("CDN_SOFT_PURGE")?,
            edge_max_age: num::<u32>(get, "CDN_MAX_AGE_SECS", 3_600)?.max(1),
            repeat_after: (repeat_ms > 0).then(|| Duration::from_millis(repeat_ms)),
            timeout: Duration::from_millis(num::<u64>(get, "CDN_PURGE_TIMEOUT_MS", 5_000)?.max(1)),
            wait: Some(num::<u64>(get, "CDN_PURGE_WAIT_MS", 1_000)?)
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis),
            target,
        })
    }
}

/// Customer account settings.
#[derive(Debug, Clone, Copy)]
pub struct CustomersConfig {
    /// Sign-in needs a verified email (`CUSTOMER_REQUIRE_VERIFIED_EMAIL`, default true).
    pub require_verified_email: bool,
    /// Lifetime of an email verification link (`CUSTOMER_VERIFY_TOKEN_HOURS`, 48).
    pub verify_token_ttl: chrono::Duration,
    /// Lifetime of a password reset link (`CUSTOMER_RESET_TOKEN_MINUTES`, 60).
    pub reset_token_ttl: chrono::Duration,
}

/// An address range (`10.0.0.0/8`, `::1`, `192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ip` or `ip/prefix`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let addr: std::net::IpAddr = ip
            .trim()
            .parse()
            .with_context(|| format!("`{text}` is not an IP address or range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .with_context(|| format!("`{text}` has an invalid prefix length"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (std::net::IpAddr::V4(net), std::net::IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (std::net::IpAddr::V6(net), std::net::IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
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
                // Development without a secret signs with a random one per process: nothing
                // signed with a value that is public in the source is ever accepted.
                (None, AppEnv::Development) => random_secret(),
            },
            jwt_lifetime: chrono::Duration::minutes(
                i64::try_from(
                    parse_num(get("JWT_LIFETIME_MINUTES"), 12 * 60)
                        .context("JWT_LIFETIME_MINUTES")?,
                )
                .context("JWT_LIFETIME_MINUTES")?,
            ),
            limits: limits_from(&get)?,
            throttle: throttle_from(&get)?,
            trusted_proxies: get("TRUSTED_PROXIES")
                .unwrap_or_default()
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(IpNet::parse)
                .collect::<anyhow::Result<_>>()
                .context("TRUSTED_PROXIES")?,
            upload_max_files: num(&get, "UPLOAD_MAX_FILES", 4)?,
            upload_deadline: Duration::from_secs(num(&get, "UPLOAD_DEADLINE_SECS", 60)? as u64),
            ws_max_subscriptions: num(&get, "WS_MAX_SUBSCRIPTIONS", 50)?,
            shutdown_timeout: Duration::from_secs(num::<u64>(&get, "SHUTDOWN_TIMEOUT_SECS", 25)?),
            shutdown_delay: Duration::from_secs(num::<u64>(&get, "SHUTDOWN_DELAY_SECS", 0)?),
            password_concurrency: num(
                &get,
                "PASSWORD_HASH_CONCURRENCY",
                std::thread::available_parallelism().map_or(2, usize::from),
            )?
            .max(1),
            introspection: parse_bool(get("GRAPHQL_INTROSPECTION"), env == AppEnv::Development)
                .context("GRAPHQL_INTROSPECTION")?,
            graphiql: parse_bool(get("GRAPHIQL"), env == AppEnv::Development)
                .context("GRAPHIQL")?,
            metrics_token: get("METRICS_TOKEN"),
            jobs: JobsConfig {
                concurrency: num(&get, "JOBS_CONCURRENCY", 4)?,
                lease: Duration::from_secs(num::<u64>(&get, "JOBS_LEASE_SECS", 60)?.max(1)),
                max_attempts: num::<i32>(&get, "JOBS_MAX_ATTEMPTS", 10)?.max(1),
                retry_base: Duration::from_millis(num::<u64>(&get, "JOBS_RETRY_BASE_MS", 2_000)?),
                poll_interval: Duration::from_millis(
                    num::<u64>(&get, "JOBS_POLL_MS", 1_000)?.max(10),
                ),
            },
            mail: MailConfig {
                smtp_url: get("SMTP_URL"),
                from: get("MAIL_FROM").unwrap_or_else(|| "Techpotli <no-reply@localhost>".into()),
                storefront_url: get("STOREFRONT_URL")
                    .unwrap_or_else(|| "http://localhost:3000".into())
                    .trim_end_matches('/')
                    .to_owned(),
                shop_name: get("SHOP_NAME").unwrap_or_else(|| "Techpotli".into()),
            },
            customers: CustomersConfig {
                require_verified_email: parse_bool(get("CUSTOMER_REQUIRE_VERIFIED_EMAIL"), true)
                    .context("CUSTOMER_REQUIRE_VERIFIED_EMAIL")?,
                verify_token_ttl: chrono::Duration::hours(
                    num::<i64>(&get, "CUSTOMER_VERIFY_TOKEN_HOURS", 48)?.max(1),
                ),
                reset_token_ttl: chrono::Duration::minutes(
                    num::<i64>(&get, "CUSTOMER_RESET_TOKEN_MINUTES", 60)?.max(1),
                ),
            },
            razorpay: match (
                get("RAZORPAY_KEY_ID"),
                get("RAZORPAY_KEY_SECRET"),
                get("RAZORPAY_WEBHOOK_SECRET"),
            ) {
                (Some(key_id), Some(key_secret), Some(webhook_secret)) => Some(RazorpayConfig {
                    key_id,
                    key_secret,
                    webhook_secret,
                    api_url: get("RAZORPAY_API_URL")
                        .unwrap_or_else(|| "https://api.razorpay.com".into())
                        .trim_end_matches('/')
                        .to_owned(),
                    auto_capture: parse_bool(get("RAZORPAY_AUTO_CAPTURE"), true)
                        .context("RAZORPAY_AUTO_CAPTURE")?,
                    timeout: Duration::from_millis(
                        num::<u64>(&get, "RAZORPAY_API_TIMEOUT_MS", 10_000)?.max(1),
                    ),
                }),
                (None, None, None) => None,
                _ => anyhow::bail!(
                    "RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET go together"
                ),
            },
            payments_manual: parse_bool(get("PAYMENTS_MANUAL"), env == AppEnv::Development)
                .context("PAYMENTS_MANUAL")?,
            cdn: CdnConfig::from_lookup(&get)?,
            cors_origins: get("CORS_ALLOWED_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// Refuses settings that are unsafe for the address the server is about to bind: the
    /// development signing secret is only for a loopback bind in development, and production
    /// must protect `/metrics`.
    pub fn check_for_serving(&self) -> anyhow::Result<()> {
        let loopback = self.bind_addr.ip().is_loopback();
        let public_secret = self.jwt_secret_is_generated() || self.jwt_secret == DEV_JWT_SECRET;
        if self.env == AppEnv::Development && !loopback && public_secret {
            anyhow::bail!(
                "JWT_SECRET is required when binding {} (a non-loopback address), even in development",
                self.bind_addr
            );
        }
        if self.env == AppEnv::Production && self.mail.smtp_url.is_none() {
            tracing::warn!(
                "SMTP_URL not set: no mail is sent (customers cannot verify their email or reset \
                 their password)"
            );
        }
        if self.env == AppEnv::Production && self.metrics_token.is_none() {
            tracing::warn!("METRICS_TOKEN not set: /metrics answers 404 in production");
        }
        Ok(())
    }

    /// Whether the signing secret is the random per-process development one.
    pub fn jwt_secret_is_generated(&self) -> bool {
        self.jwt_secret.starts_with(GENERATED_SECRET_PREFIX)
    }
}

/// Marks the per-process development secret.
const GENERATED_SECRET_PREFIX: &str = "generated-dev-secret:";

fn random_secret() -> String {
    let mut out = String::from(GENERATED_SECRET_PREFIX);
    for _ in 0..4 {
        out.push_str(&format!("{:016x}", crate::random::u64()));
    }
    out
}

fn num<T: TryFrom<u64>>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T> {
    match get(name) {
        None => Ok(default),
        Some(v) => {
            let n: u64 = v
                .parse()
                .map_err(|_| anyhow::anyhow!("{name}: expected a number, not `{v}`"))?;
            T::try_from(n).map_err(|_| anyhow::anyhow!("{name}: {n} is out of range"))
        }
    }
}

fn limits_from(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Limits> {
    let d = Limits::default();
    Ok(Limits {
        max_body_bytes: num(get, "GRAPHQL_MAX_BODY_BYTES", d.max_body_bytes)?,
        max_document_bytes: num(get, "GRAPHQL_MAX_DOCUMENT_BYTES", d.max_document_bytes)?,
        max_nesting: num(get, "GRAPHQL_MAX_NESTING", d.max_nesting)?,
        max_variables_bytes: num(get, "GRAPHQL_MAX_VARIABLES_BYTES", d.max_variables_bytes)?,
        max_variables_nesting: num(
            get,
            "GRAPHQL_MAX_VARIABLES_NESTING",
            d.max_variables_nesting,
        )?,
        max_operations: num(get, "GRAPHQL_MAX_OPERATIONS", d.max_operations)?,
        max_aliases: num(get, "GRAPHQL_MAX_ALIASES", d.max_aliases)?,
        max_root_fields: num(get, "GRAPHQL_MAX_ROOT_FIELDS", d.max_root_fields)?,
        max_selections: num(get, "GRAPHQL_MAX_SELECTIONS", d.max_selections)?,
    })
}

fn throttle_from(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<ThrottleConfig> {
    let d = ThrottleConfig::default();
    let bucket = |prefix: &str, d: BucketLimits| -> anyhow::Result<BucketLimits> {
        Ok(BucketLimits {
            maximum: num(get, &format!("{prefix}_MAXIMUM"), d.maximum)?,
            restore_rate: num(get, &format!("{prefix}_RESTORE_RATE"), d.restore_rate)?.max(1),
        })
    };
    Ok(ThrottleConfig {
        max_query_cost: num(get, "QUERY_MAX_COST", d.max_query_cost)?,
        public: bucket("THROTTLE_PUBLIC", d.public)?,
        staff: bucket("THROTTLE_STAFF", d.staff)?,
    })
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
    fn the_development_secret_is_random_and_only_for_loopback() {
        let a = from(&[]).unwrap();
        let b = from(&[]).unwrap();
        assert_ne!(a.jwt_secret, b.jwt_secret);
        assert_ne!(a.jwt_secret, DEV_JWT_SECRET);
        assert!(a.check_for_serving().is_ok());
        assert!(
            from(&[("BIND_ADDR", "0.0.0.0:8080")])
                .unwrap()
                .check_for_serving()
                .is_err()
        );
        let explicit = from(&[
            ("BIND_ADDR", "0.0.0.0:8080"),
            ("JWT_SECRET", "k3Jx9vQ2mL7pR4tW8yB1nC6fH0aS5dE2"),
        ])
        .unwrap();
        assert!(explicit.check_for_serving().is_ok());
        let prod = from(&[
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://db/x"),
            ("JWT_SECRET", "k3Jx9vQ2mL7pR4tW8yB1nC6fH0aS5dE2"),
        ])
        .unwrap();
        assert!(!prod.introspection && !prod.graphiql);
        assert!(a.introspection && a.graphiql);
    }

    #[test]
    fn trusted_proxy_ranges_match_addresses() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one = IpNet::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
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
        assert!(from(&[("TRUSTED_PROXIES", "10.0.0.0/33")]).is_err());
        assert!(from(&[("GRAPHQL_MAX_NESTING", "deep")]).is_err());
        assert!(from(&[("APP_ENV", "staging")]).is_err());
        assert!(from(&[("CACHE_ENABLED", "maybe")]).is_err());
        assert!(from(&[("CACHE_TIMEOUT_MS", "soon")]).is_err());
    }
}
