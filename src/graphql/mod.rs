//! GraphQL plumbing shared by the domains (context, IDs, scalars) and the assembly that knows
//! every domain (`schema`, `node`, the HTTP handlers and GraphiQL).

pub mod apq;
pub mod batch;
pub mod context;
pub mod cost;
pub mod documents;
pub mod graphiql;
pub mod hot_path;
pub mod http;
pub mod ids;
pub mod limits;
pub mod media;
pub mod multipart;
pub mod node;
pub mod response_cache;
pub mod scalars;
pub mod schema;
pub mod upload;
pub mod ws;
