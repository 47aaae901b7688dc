//! `techpotli health`: the container health check, asking the server's own `/readyz` over
//! loopback with a plain HTTP/1.0 request (no HTTP client needed in the image).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `Ok` when `GET /readyz` at `addr` answers 200; otherwise why not.
pub async fn ready(addr: SocketAddr) -> Result<(), String> {
    // A wildcard bind (`0.0.0.0`, `::`) is reachable on loopback.
    let addr = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .write_all(b"GET /readyz HTTP/1.0\r\nhost: localhost\r\n\r\n")
            .await
            .map_err(|e| format!("cannot send: {e}"))?;
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < 12 {
            let n = stream
                .read(&mut head[read..])
                .await
                .map_err(|e| format!("cannot read: {e}"))?;
            if n == 0 {
                break;
            }
            read += n;
        }
        let line = String::from_utf8_lossy(&head[..read]);
        match line.split(' ').nth(1) {
            Some("200") => Ok(()),
            Some(status) => Err(format!("/readyz answered {status}")),
            None => Err("no HTTP answer".to_owned()),
        }
    };
    tokio::time::timeout(TIMEOUT, check)
        .await
        .map_err(|_| format!("no answer from {addr} within {TIMEOUT:?}"))?
}
