//! Tokens die with the account: a token names its account's token version, and every request
//! (HTTP, and each WebSocket connection) checks it against the account — a staff member's or a
//! customer's — through a small, short-lived in-process cache. Deactivating an account, or
//! changing its role or password, bumps the version; the instance that made the change forgets
//! the account at once and the event bus tells every other instance (and open WebSockets) to do
//! the same.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::jwt::{Claims, JwtKeys};
use super::model::AdminUser;
use super::viewer::{Role, Viewer};
use crate::cache::bounded::BoundedMap;
use crate::db::DbPool;
use crate::db::schema::customers;

/// How long an account's state is trusted without asking the database (the bound on staleness
/// when the event that announces a change is lost).
const TRUST_FOR: Duration = Duration::from_secs(15);
/// Accounts remembered at once.
const MAX_ACCOUNTS: usize = 10_000;

/// What a token must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Account {
    active: bool,
    version: i64,
    role: Option<Role>,
}

/// Whose account a token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    /// `admin_users.id`.
    Staff(i64),
    /// `customers.id`.
    Customer(i64),
}

/// The cache of account states; cheaply cloneable.
#[derive(Clone)]
pub struct Sessions {
    accounts: Arc<BoundedMap<Principal, Option<Account>>>,
    /// Bumped by every `forget`: a read that began before a change must not store what it read.
    epoch: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            accounts: Arc::new(BoundedMap::new(MAX_ACCOUNTS, usize::MAX)),
            epoch: Arc::default(),
        }
    }
}

/// How often an open WebSocket re-checks its account even without an event (a lost pub/sub
/// message must not keep a revoked session open).
pub const RECHECK_EVERY: Duration = TRUST_FOR;

impl Sessions {
    /// Forgets an account after a change, so the next request reads it again.
    pub fn forget(&self, who: Principal) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.accounts.remove(&who);
    }

    async fn account(&self, db: &DbPool, who: Principal) -> Result<Option<Account>, Viewer> {
        if let Some(account) = self.accounts.get(&who) {
            return Ok(account);
        }
        let epoch = self.epoch.load(std::sync::atomic::Ordering::SeqCst);
        let unavailable = || Viewer::Invalid("cannot verify the token right now; retry".into());
        let account = crate::db::read(db, move |conn| {
            Box::pin(async move {
                Ok::<_, crate::error::AppError>(Self::read_account(conn, who).await?)
            })
        })
        .await
        .map_err(|_| unavailable())?;
        // Stored only when no change was announced while we read (it may predate the commit).
        if self.epoch.load(std::sync::atomic::Ordering::SeqCst) == epoch {
            self.accounts
                .insert(who, account, 1, Some(Instant::now() + TRUST_FOR));
        }
        Ok(account)
    }

    async fn read_account(
        conn: &mut diesel_async::AsyncPgConnection,
        who: Principal,
    ) -> diesel::QueryResult<Option<Account>> {
        Ok(match who {
            Principal::Staff(id) => AdminUser::find(conn, id).await?.map(|u| Account {
                active: u.is_active,
                version: u.token_version,
                role: u.role.parse().ok(),
            }),
            Principal::Customer(id) => diesel_async::RunQueryDsl::first::<(bool, i64)>(
                customers::table
                    .find(id)
                    .select((customers::is_active, customers::token_version)),
                conn,
            )
            .await
            .optional()?
            .map(|(active, version)| Account {
                active,
                version,
                role: None,
            }),
        })
    }

    /// The viewer verified claims stand for, checked against their account.
    pub async fn viewer(&self, db: &DbPool, claims: &Claims) -> Viewer {
        let viewer = JwtKeys::viewer_of(claims);
        let (who, role) = match viewer {
            Viewer::Admin { id, role } => (Principal::Staff(id), Some(role)),
            Viewer::Customer { id } => (Principal::Customer(id), None),
            other => return other,
        };
        match self.account(db, who).await {
            Err(viewer) => viewer,
            Ok(Some(account))
                if account.active && account.version == claims.ver && account.role == role =>
            {
                viewer
            }
            Ok(_) => Viewer::Invalid("token revoked: sign in again".into()),
        }
    }

    /// The viewer an `Authorization` header value stands for.
    pub async fn from_header(&self, jwt: &JwtKeys, db: &DbPool, header: Option<&str>) -> Viewer {
        let token = match super::jwt::bearer_token(header) {
            Ok(Some(token)) => token,
            Ok(None) => return Viewer::Anonymous,
            Err(viewer) => return viewer,
        };
        match jwt.verify(token) {
            Ok(claims) => self.viewer(db, &claims).await,
            Err(reason) => Viewer::Invalid(reason),
        }
    }
}
