//! Entry point: parse the command line and dispatch.

use anyhow::Context as _;
use clap::Parser;
use techpotli::cli::{AdminAction, Cli, Command};
use techpotli::config::Config;
use techpotli::{app, auth, db, graphql, http, seed, state};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,techpotli=info".into());
    // `LOG_FORMAT=json`: one JSON object per line with the request span's fields (id, method,
    // path); `pretty` (the default): text, coloured only on a terminal.
    match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
        Ok("pretty") | Err(_) => tracing_subscriber::fmt()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .with_env_filter(filter)
            .init(),
        Ok(other) => {
            eprintln!("LOG_FORMAT must be `json` or `pretty`, not `{other}`");
            std::process::exit(2);
        }
    }
    let cli = Cli::parse();
    match cli.command {
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
            anyhow::ensure!(
                config.redis_url.is_some(),
                "REDIS_URL is required: without Redis persisted queries live in each server's memory"
            );
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("reading {}", manifest.display()))?;
            let manifest = graphql::apq::Manifest::parse(&text)?;
            let app = state::App::build(config)?;
            let store = graphql::apq::PersistedQueries::default();
            for op in &manifest.operations {
                let hash = store.put(&app.cache, &op.body).await;
                println!("{hash} {}", op.name.as_deref().unwrap_or(""));
            }
            anyhow::ensure!(
                app.cache
                    .metrics
                    .faults
                    .load(std::sync::atomic::Ordering::Relaxed)
                    == 0,
                "Redis refused some writes; nothing is guaranteed registered"
            );
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
            let app = state::App::build(config)?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            tracing::info!("listening on http://{addr} (GraphiQL at http://{addr}/graphiql)");
            http::serve(listener, app::build_router(app)).await?;
            Ok(())
        }
    }
}
