//! The response media types of GraphQL over HTTP and how a request chooses one (`Accept`).

use axum::http::{HeaderMap, header};

/// Media type of GraphQL-over-HTTP responses.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Which response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// `application/graphql-response+json`: request errors with 4xx statuses.
    GraphqlResponseJson,
    /// `application/json`: 200 for every well-formed request.
    Json,
}

impl Flavor {
    /// The `Content-Type` of a response in it.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// The media type `Accept` asks for (`application/json` unless it prefers the newer type).
pub fn negotiate(headers: &HeaderMap) -> Flavor {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Clients that list both usually prefer the newer type first (graphql-http's audit does).
    let gql = accept.find(GRAPHQL_RESPONSE_JSON);
    let json = accept.find("application/json");
    match (gql, json) {
        (Some(g), Some(j)) if g < j => Flavor::GraphqlResponseJson,
        (Some(_), None) => Flavor::GraphqlResponseJson,
        _ => Flavor::Json,
    }
}
