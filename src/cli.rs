//! The `techpotli` command line.

use clap::{Parser, Subcommand};

/// Techpotli commerce GraphQL server.
#[derive(Debug, Parser)]
#[command(name = "techpotli", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run pending migrations, then serve HTTP until SIGTERM.
    Serve {
        /// Address to bind (overrides BIND_ADDR).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
    /// Run job queue workers only (no HTTP), e.g. several side by side; stops on SIGTERM/Ctrl-C
    /// after the jobs in hand finish.
    Worker {
        /// Jobs run at once (overrides JOBS_CONCURRENCY).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Run the jobs that are due, then exit (for cron-style use and scripts).
        #[arg(long)]
        until_idle: bool,
    },
    /// Run pending database migrations.
    Migrate,
    /// Generate the deterministic demo catalog (runs migrations first).
    Seed {
        /// Number of products.
        #[arg(long, default_value_t = 1_000)]
        products: i64,
        /// Replace an existing catalog (TRUNCATE) instead of leaving it alone.
        #[arg(long)]
        reset: bool,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` must equal it.
    Schema,
    /// Ask the running server's `/readyz` (at BIND_ADDR, or `--addr`); exit 0 when it answers 200,
    /// 1 otherwise. For a container `HEALTHCHECK` (the image has no curl).
    Health {
        /// Address of the server (a wildcard bind is asked on loopback).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
    /// Manage staff accounts.
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Register a storefront's persisted queries (an Apollo `persisted-query-manifest.json`) in
    /// PostgreSQL, the durable allow-list (runs migrations first), e.g. before switching on
    /// PERSISTED_QUERIES_ONLY. All or nothing; prints `hash name` per operation on success.
    RegisterQueries {
        /// Path of the manifest.
        manifest: std::path::PathBuf,
    },
    /// List or remove registered persisted queries.
    PersistedQueries {
        /// What to do.
        #[command(subcommand)]
        action: PersistedQueryAction,
    },
}

/// Allow-list actions.
#[derive(Debug, Subcommand)]
pub enum PersistedQueryAction {
    /// Print every registered operation: hash, registration time, name.
    List,
    /// Take one operation off the allow-list (instances stop running it within five minutes).
    Remove {
        /// Its SHA-256 (hex).
        hash: String,
    },
}

/// Staff account actions.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create a staff account, or reset the password and role of an existing one. The password
    /// comes from --password, else ADMIN_PASSWORD, else the first line of standard input; it is
    /// never echoed.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Password (prefer ADMIN_PASSWORD or standard input: arguments show in `ps`).
        #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// owner, content, catalog or orders.
        #[arg(long, default_value = "owner")]
        role: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
