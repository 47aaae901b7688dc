//! The test SMTP server's mailboxes (scripts/smtp_sink.py stores each delivered message under
//! `$TEST_MAIL_DIR/<recipient>/`), read and decoded with Python's `email` package, and the job
//! workers that deliver them.

use std::path::PathBuf;

use techpotli::jobs::{Handlers, Worker};

use super::TestApp;

/// Where the SMTP sink stores messages.
pub fn mail_dir() -> PathBuf {
    std::env::var("TEST_MAIL_DIR")
        .unwrap_or_else(|_| "/tmp/techpotli-mail".into())
        .into()
}

/// The `SMTP_URL` of the sink scripts/test starts.
pub fn smtp_url() -> String {
    let port = std::env::var("TEST_SMTP_PORT").unwrap_or_else(|_| "2525".into());
    format!("smtp://127.0.0.1:{port}")
}

/// A delivered message, decoded.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    pub subject: String,
    pub from: String,
    pub to: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The value of the `token` query parameter of the first link in the text part.
    pub fn token(&self) -> String {
        let at = self.text.find("token=").expect("a link with a token") + "token=".len();
        self.text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

const DECODE: &str = r#"
import email, email.policy, json, sys
out = []
for path in sys.argv[1:]:
    m = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
    part = lambda t: (m.get_body(preferencelist=(t,)) or m).get_content()
    out.append({"subject": m["subject"], "from": m["from"], "to": m["to"],
                "message_id": m["message-id"] or "", "text": part("plain"), "html": part("html")})
print(json.dumps(out))
"#;

/// Every message delivered to `address` so far, oldest first.
pub fn inbox_of(dir: &std::path::Path, address: &str) -> Vec<Mail> {
    let folder = dir.join(address.to_lowercase());
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    if files.is_empty() {
        return Vec::new();
    }
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(DECODE)
        .args(&files)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("decoded mail")
}

/// Every message the test sink delivered to `address`.
pub fn inbox(address: &str) -> Vec<Mail> {
    inbox_of(&mail_dir(), address)
}

/// A unique address for one test (the sink's folders are shared by every test of a run).
pub fn address(name: &str) -> String {
    format!("{name}.{:016x}@shop.test", techpotli::random::u64())
}

impl TestApp {
    /// Runs the due jobs with the standard handlers until none is due; returns the attempts run.
    pub async fn run_jobs(&self) -> usize {
        Worker::new(self.app.clone(), Handlers::standard(), 4)
            .run_until_idle()
            .await
    }
}

/// A real SMTP server of the test's own on a free loopback port, storing under its own folder;
/// killed when dropped.
pub struct OwnSmtp {
    child: std::process::Child,
}

impl OwnSmtp {
    /// Starts scripts/smtp_sink.py on `port` and waits until it accepts connections.
    pub fn start(port: u16, dir: PathBuf) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/smtp_sink.py");
        let mut child = std::process::Command::new("python3")
            .args([script, "--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 scripts/smtp_sink.py");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the SMTP sink did not start on port {port}");
    }
}

impl Drop for OwnSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
