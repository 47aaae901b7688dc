//! Entry point: parse the command line and dispatch.

use anyhow::Context as _;
use clap::Parser;
use techpotli::cli::{AdminAction, Cli, Command, PersistedQueryAction};
use techpotli::config::Config;
use techpotli::{app, auth, db, graphql, http, jobs, seed, state};

/// jemalloc instead of glibc's malloc: thread caches without glibc's arena lock and less
/// fragmentation under the many short-lived allocations of GraphQL field resolution (S2 +50 %,
/// S6 RSS with 10,000 open connections 193 → 158 MiB; README "Benchmarks").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs to stderr; traces over OTLP when an endpoint is configured (see `telemetry`).
    let telemetry = match techpotli::telemetry::init() {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("{error:#}");
            std::process::exit(2);
        }
    };
    let result = run().await;
    telemetry.shutdown().await;
    result
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Health { addr } => {
            let addr = match addr {
                Some(addr) => addr,
                None => Config::from_env()?.bind_addr,
            };
            match http::health::ready(addr).await {
                Ok(()) => Ok(()),
                Err(why) => {
                    eprintln!("not ready: {why}");
                    std::process::exit(1);
                }
            }
        }
        Command::Schema => {
            print!("{}", graphql::schema::sdl());
            Ok(())
        }
        Command::Admin {
            action:
                AdminAction::Create {
                    email,
                    password,
                    role,
                },
        } => {
            let config = Config::from_env()?;
            db::run_migrations(&config.database.url).await?;
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let app = state::App::build(config)?;
            let admin = auth::service::create_admin(&app, &email, password, &role).await?;
            println!("staff account {} ({}) ready", admin.email, admin.role);
            Ok(())
        }
        Command::RegisterQueries { manifest } => {
            let config = Config::from_env()?;
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("reading {}", manifest.display()))?;
            let manifest = graphql::apq::Manifest::parse(&text)?;
            db::run_migrations(&config.database.url).await?;
            let app = state::App::build(config)?;
            let mut conn = app.db.get().await.context("connecting to the database")?;
            let hashes = graphql::apq::register_manifest(&app, &mut conn, &manifest)
                .await
                .context("registering the operations (nothing was registered)")?;
            // Printed only once every operation is committed.
            for (hash, op) in hashes.iter().zip(&manifest.operations) {
                println!("{hash} {}", op.name.as_deref().unwrap_or(""));
            }
            if app
                .cache
                .metrics
                .faults
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
            {
                eprintln!(
                    "warning: the cache refused some writes; the operations are registered and \
                     will be cached on first use"
                );
            }
            Ok(())
        }
        Command::PersistedQueries { action } => {
            let config = Config::from_env()?;
            let app = state::App::build(config)?;
            let mut conn = app.db.get().await.context("connecting to the database")?;
            match action {
                PersistedQueryAction::List => {
                    for op in graphql::apq::list_registered(&mut conn).await? {
                        println!(
                            "{} {} {}",
                            op.hash,
                            op.registered_at.to_rfc3339(),
                            op.name.as_deref().unwrap_or("")
                        );
                    }
                    Ok(())
                }
                PersistedQueryAction::Remove { hash } => {
                    let removed = graphql::apq::remove_registered(&app, &mut conn, &hash).await?;
                    anyhow::ensure!(removed, "no registered operation has the hash {hash}");
                    println!("removed {hash}");
                    Ok(())
                }
            }
        }
        Command::Worker {
            concurrency,
            until_idle,
        } => {
            let config = Config::from_env()?;
            db::run_migrations(&config.database.url).await?;
            let concurrency = concurrency.unwrap_or(config.jobs.concurrency);
            let app = state::App::build(config)?;
            drop(app.db.get().await.context("connecting to the database")?);
            let worker = jobs::Worker::new(app, jobs::Handlers::standard(), concurrency);
            if until_idle {
                let ran = worker.run_until_idle().await;
                tracing::info!(attempts = ran, "no job is due; exiting");
            } else {
                worker.run(http::shutdown_signal()).await;
            }
            Ok(())
        }
        Command::Migrate => {
            let config = Config::from_env()?;
            db::run_migrations(&config.database.url).await
        }
        Command::Seed { products, reset } => {
            let config = Config::from_env()?;
            db::run_migrations(&config.database.url).await?;
            let started = std::time::Instant::now();
            let app = state::App::build(config)?;
            let mut conn = app.db.get().await.context("connecting to the database")?;
            let outcome = seed::seed(&mut conn, seed::SeedOptions { products, reset }).await?;
            match outcome {
                seed::SeedOutcome::Seeded => {
                    tracing::info!(
                        products,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "seeded demo catalog"
                    );
                }
                seed::SeedOutcome::AlreadySeeded => {
                    tracing::info!(
                        "catalog already present; nothing done (use --reset to replace it)"
                    );
                }
            }
            Ok(())
        }
        Command::Serve { bind } => {
            let mut config = Config::from_env()?;
            if let Some(bind) = bind {
                config.bind_addr = bind;
            }
            config.check_for_serving()?;
            if let Err(error) = db::run_migrations(&config.database.url).await {
                // Serve anyway: /readyz reports the database, and a later start migrates.
                tracing::error!(error = %format!("{error:#}"), "migrations failed at start-up");
            }
            let addr = config.bind_addr;
            let concurrency = config.jobs.concurrency;
            let app = state::App::build(config)?;
            // Requests negotiate their language against this copy; load it before serving.
            app.locales.reload_now(&app.db).await;
            // The worker stops claiming when the drain begins and finishes the jobs in hand
            // (a job cut short by the drain timeout runs again when its lease runs out).
            let worker = (concurrency > 0).then(|| {
                let worker =
                    jobs::Worker::new(app.clone(), jobs::Handlers::standard(), concurrency);
                tokio::spawn(worker.run(app.shutdown.begun()))
            });
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            tracing::info!("listening on http://{addr} (GraphiQL at http://{addr}/graphiql)");
            let (shutdown, delay, timeout) = (
                app.shutdown.clone(),
                app.config.shutdown_delay,
                app.config.shutdown_timeout,
            );
            let cache_of = app.clone();
            let router = app::build_router(app);
            http::shutdown::serve(listener, router, shutdown.clone(), delay, timeout).await?;
            if let Some(worker) = worker
                && tokio::time::timeout_at(shutdown.deadline(timeout), worker)
                    .await
                    .is_err()
            {
                tracing::warn!("drain timeout: exiting with jobs still running");
            }
            // Nothing here reads or writes any more: other instances' writes stop waiting for us.
            cache_of.cache.release().await;
            Ok(())
        }
    }
}
