//! The client address a request comes from: the socket's peer, or, when that peer is a trusted
//! proxy (`TRUSTED_PROXIES`), the right-most `X-Forwarded-For` hop that is not itself trusted.
//! A header from anyone else is ignored, so a client cannot pick its own throttle bucket.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::config::IpNet;

/// The client address of a request (`"unknown"` when the server was not told its peers, as in
/// in-process tests that send none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

/// Resolves the client behind `peer` given the `X-Forwarded-For` value.
pub fn resolve(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[IpNet]) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let shown = |ip: IpAddr| match ip {
        // One IPv6 subscriber holds a whole /64: count it as one client.
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(bits))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4).to_string(),
        v4 => v4.to_string(),
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return shown(peer);
    }
    let mut client = peer;
    if let Some(hops) = forwarded_for {
        for hop in hops.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(ip) {
                        break;
                    }
                }
                // A malformed hop ends the chain we can believe.
                Err(_) => break,
            }
        }
    }
    shown(client)
}

/// Settings the extractor needs, from the router state.
pub trait TrustedProxies {
    /// The trusted proxy ranges.
    fn trusted_proxies(&self) -> &[IpNet];
}

impl<S: TrustedProxies + Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // Every header line, in order: a proxy may append its own line rather than extend the
        // client's, and the right-most hops are the ones proxies wrote.
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let joined = (!forwarded.is_empty()).then(|| forwarded.join(","));
        Ok(Self(resolve(
            peer,
            joined.as_deref(),
            state.trusted_proxies(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_peers_may_name_the_client() {
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(
            resolve(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            "203.0.113.9"
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), Some("1.2.3.4"), &trusted),
            "1.2.3.4"
        );
        // The right-most untrusted hop: what the first proxy saw, not what the client claimed.
        assert_eq!(
            resolve(ip("10.0.0.2"), Some("6.6.6.6, 1.2.3.4, 10.0.0.9"), &trusted),
            "1.2.3.4"
        );
        assert_eq!(resolve(ip("10.0.0.2"), None, &trusted), "10.0.0.2");
        assert_eq!(resolve(ip("10.0.0.2"), Some("junk"), &trusted), "10.0.0.2");
        assert_eq!(resolve(None, Some("1.2.3.4"), &trusted), "unknown");
        assert_eq!(
            resolve(ip("2001:db8:1:2:aaaa::1"), None, &trusted),
            resolve(ip("2001:db8:1:2:bbbb::9"), None, &trusted),
            "one /64, one client"
        );
        assert_eq!(
            resolve(ip("::ffff:203.0.113.9"), None, &trusted),
            "203.0.113.9"
        );
    }
}
