//! One PostgreSQL database per test, created from a template that is migrated and seeded once
//! (per content of the migrations and the seed) and dropped when the test ends.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel::QueryableByName;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// Where tests create databases; `TEST_DATABASE_URL` points at a maintenance database.
fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn url_for(name: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// Hash of everything that shapes the template's content, so a changed migration or seed never
/// reuses a stale template, and concurrent test binaries agree on the name.
fn template_name() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut hasher = Sha256::new();
    let mut files: Vec<_> = walk(&format!("{root}/migrations"));
    files.push(format!("{root}/src/seed.rs").into());
    files.sort();
    for file in files {
        hasher.update(std::fs::read(&file).expect("read template input"));
    }
    hasher.update(super::SEEDED_PRODUCTS.to_le_bytes());
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("techpotli_tpl_{hex}")
}

fn walk(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path.to_string_lossy()));
        } else {
            out.push(path);
        }
    }
    out
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .expect("connect to the admin database (is PostgreSQL running?)")
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = admin().await;
            // Serialize template creation across concurrent test processes.
            conn.batch_execute("SELECT pg_advisory_lock(727274)")
                .await
                .expect("lock");
            #[derive(QueryableByName)]
            struct Exists {
                #[diesel(sql_type = Bool)]
                exists: bool,
            }
            let exists = diesel::sql_query(format!(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}') AS exists"
            ))
            .get_result::<Exists>(&mut conn)
            .await
            .expect("check template")
            .exists;
            if !exists {
                let building = format!("{name}_building");
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                    .await
                    .expect("drop");
                conn.batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .expect("create template");
                let url = url_for(&building);
                techpotli::db::run_migrations(&url)
                    .await
                    .expect("migrate template");
                {
                    let mut tpl = AsyncPgConnection::establish(&url)
                        .await
                        .expect("connect template");
                    let options = techpotli::seed::SeedOptions {
                        products: super::SEEDED_PRODUCTS,
                        reset: false,
                    };
                    techpotli::seed::seed(&mut tpl, options)
                        .await
                        .expect("seed template");
                }
                // Renaming makes the finished template appear atomically.
                // The seed connection closes asynchronously; retry until PostgreSQL lets go of it.
                let rename = format!("ALTER DATABASE {building} RENAME TO {name}");
                let mut attempt = 0;
                while let Err(e) = conn.batch_execute(&rename).await {
                    attempt += 1;
                    assert!(attempt < 50, "rename template: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
            conn.batch_execute("SELECT pg_advisory_unlock(727274)")
                .await
                .expect("unlock");
            name
        })
        .await
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database of one test; dropped (with `FORCE`) when this value is dropped.
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl TestDatabase {
    /// A fresh copy of the seeded template.
    pub async fn seeded() -> Self {
        let template = template().await;
        let name = format!(
            "techpotli_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mut conn = admin().await;
        // Two CREATE DATABASE … TEMPLATE at once can collide; retry briefly.
        let mut attempt = 0;
        loop {
            match conn
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        Self {
            url: url_for(&name),
            name,
        }
    }

    /// A direct connection, for independent SQL in assertions and for fixtures.
    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin_url()).await {
                    let _ = conn
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
