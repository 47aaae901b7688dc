//! A real Varnish (Debian's varnishd with vmod xkey) of the test's own, on a free loopback port,
//! running the repository's `deploy/varnish/techpotli.vcl` with its backend pointed at the test's
//! server; killed when dropped.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;
use techpotli::http::outbound;

/// A running varnishd (manager and cache processes in their own process group).
pub struct OwnVarnish {
    child: std::process::Child,
    pub port: u16,
    dir: PathBuf,
    http: outbound::HttpsClient,
}

/// What a GET through Varnish answered.
pub struct EdgeResponse {
    pub status: u16,
    /// `HIT` or `MISS` (set by the VCL).
    pub cache: String,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl OwnVarnish {
    /// Starts varnishd on `port` in front of `backend` and waits until it serves through it.
    pub async fn start(port: u16, backend: SocketAddr) -> Self {
        let vcl = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/varnish/techpotli.vcl"
        ))
        .expect("deploy/varnish/techpotli.vcl");
        let vcl = vcl
            .replace(
                ".host = \"127.0.0.1\";",
                &format!(".host = \"{}\";", backend.ip()),
            )
            .replace(
                ".port = \"8080\";",
                &format!(".port = \"{}\";", backend.port()),
            );
        let dir = std::env::temp_dir().join(format!("techpotli-varnish-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("varnish dir");
        let vcl_path = dir.join("techpotli.vcl");
        std::fs::write(&vcl_path, vcl).expect("write vcl");
        let child = std::process::Command::new("varnishd")
            .arg("-F")
            .args(["-j", "none"])
            .arg("-n")
            .arg(dir.join("state"))
            .args(["-a", &format!("127.0.0.1:{port}")])
            .arg("-f")
            .arg(&vcl_path)
            .args(["-s", "malloc,64m", "-p", "thread_pool_min=10"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("varnishd (Debian packages varnish and varnish-modules; scripts/test installs them)");
        let mut varnish = Self {
            child,
            port,
            dir,
            http: outbound::https_client().expect("client"),
        };
        // Up, and its probe has found the backend healthy.
        for _ in 0..150 {
            if let Ok(Some(status)) = varnish.child.try_wait() {
                panic!("varnishd exited ({status}): port {port} taken, or the VCL is invalid");
            }
            if let Some(r) = varnish.try_get("/healthz").await
                && r == 200
            {
                return varnish;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("varnishd did not start on port {port}");
    }

    async fn try_get(&self, path: &str) -> Option<u16> {
        let request = hyper::Request::get(format!("http://127.0.0.1:{}{path}", self.port))
            .body(Full::new(Bytes::new()))
            .ok()?;
        let (status, _) = outbound::send(
            &self.http,
            request,
            std::time::Duration::from_secs(2),
            1 << 20,
        )
        .await
        .ok()?;
        Some(status.as_u16())
    }

    /// GETs `query` as a storefront would (`GET /graphql?query=…`) through Varnish.
    pub async fn query(&self, query: &str) -> EdgeResponse {
        let encoded = serde_urlencoded::to_string([("query", query)]).expect("encode");
        let request =
            hyper::Request::get(format!("http://127.0.0.1:{}/graphql?{encoded}", self.port))
                .header("accept", "application/graphql-response+json")
                .body(Full::new(Bytes::new()))
                .expect("request");
        let response = self.http.request(request).await.expect("varnish answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        EdgeResponse {
            status,
            cache: headers
                .get("x-cache")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            headers,
        }
    }

    /// Freezes every varnishd process (a hung CDN: connections are accepted, nothing answers).
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Thaws it.
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), "--", &format!("-{}", self.child.id())])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }
}

impl Drop for OwnVarnish {
    fn drop(&mut self) {
        self.signal("CONT");
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
