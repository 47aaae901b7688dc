//! The caller of a request, and what each staff role may do.

use std::str::FromStr;

/// A staff role. Owners can do everything, including managing staff; the others are limited to
/// one area, so a content editor cannot touch products or refund orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Role {
    /// Everything, including staff accounts.
    Owner,
    /// Home-page content: hero banners.
    Content,
    /// The catalog: products, variants, prices, collections, categories, regions.
    Catalog,
    /// Orders and the customers who place them.
    Orders,
}

impl Role {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Content => "content",
            Self::Catalog => "catalog",
            Self::Orders => "orders",
        }
    }

    /// Whether the role grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        match self {
            Self::Owner => true,
            Self::Content => permission == Permission::Banners,
            Self::Catalog => permission == Permission::Catalog,
            Self::Orders => matches!(permission, Permission::Orders | Permission::Customers),
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Self::Owner),
            "content" => Ok(Self::Content),
            "catalog" => Ok(Self::Catalog),
            "orders" => Ok(Self::Orders),
            other => Err(format!(
                "unknown role `{other}` (owner, content, catalog, orders)"
            )),
        }
    }
}

/// An area of the admin API a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Hero banners.
    Banners,
    /// Catalog data.
    Catalog,
    /// Orders.
    Orders,
    /// Customer accounts (search, disable).
    Customers,
    /// Staff accounts and the job queue.
    Staff,
}

/// Who sent the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Viewer {
    /// No credentials.
    #[default]
    Anonymous,
    /// A staff member with a valid admin token.
    Admin {
        /// `admin_users.id`.
        id: i64,
        /// Role at the time the token was issued.
        role: Role,
    },
    /// A valid token of a storefront customer (not staff).
    Customer {
        /// Customer id.
        id: i64,
    },
    /// Credentials were sent but are invalid or expired (the reason is safe to show).
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_only_their_area() {
        assert!(Role::Owner.grants(Permission::Staff));
        assert!(Role::Content.grants(Permission::Banners));
        assert!(!Role::Content.grants(Permission::Catalog));
        assert!(!Role::Catalog.grants(Permission::Banners));
        assert!(!Role::Orders.grants(Permission::Staff));
        assert!(Role::Orders.grants(Permission::Customers));
        assert!(!Role::Catalog.grants(Permission::Customers));
        assert_eq!("catalog".parse::<Role>(), Ok(Role::Catalog));
        assert!("root".parse::<Role>().is_err());
    }
}
