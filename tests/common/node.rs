//! The node under test: a `tlsedge serve` child process on loopback port 0 with its own data
//! folder, its log, its addresses and admin token, and clients aimed at its listeners.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::api::Api;
use super::BIN;

/// A running `tlsedge serve` child process with its own data folder.
pub struct Node {
    pub child: Child,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub admin: SocketAddr,
    pub token: String,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    /// Starts a node in a new temporary folder; `extra` is appended to its config file.
    pub fn start(extra: &str) -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut n = Node::start_in(&dir, extra);
        n._tmp = Some(tmp);
        n
    }

    /// Starts a node on the data folder `dir` (kept by the caller), e.g. to restart one.
    pub fn start_in(dir: &Path, extra: &str) -> Node {
        Node::start_config(dir, &config_text(dir, "", extra))
    }

    /// Everything the node logged so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The admin API client of this node.
    pub fn api(&self) -> Api {
        Api {
            base: format!("http://{}/api/v1", self.admin),
            token: self.token.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends SIGTERM and waits for the process to exit (bounded).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe_free_kill(self.child.id(), "TERM");
        wait_exit(&mut self.child, Duration::from_secs(40))
    }

    /// SIGTERM from a blocking thread, so the test's runtime keeps serving its own clients
    /// (an HTTP/2 client must answer the node's GOAWAY ping for the node to finish early).
    pub async fn stop(mut self) -> std::process::ExitStatus {
        tokio::task::spawn_blocking(move || self.terminate())
            .await
            .unwrap()
    }

    /// SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Takes the temporary folder so it outlives this node (for restarts).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }

    /// A client for the edge that resolves `names` to this node and trusts `ca_pem`.
    pub fn client(&self, ca_pem: &str, names: &[&str]) -> reqwest::Client {
        client_builder(ca_pem, names, self).build().unwrap()
    }

    /// The sum of every sample of the metric `name` on `/metrics` whose labels contain `label`
    /// (`""`: all of them), e.g. `metric_sum("tlsedge_requests_total", r#"scheme="https""#)`.
    pub async fn metric_sum(&self, name: &str, label: &str) -> u64 {
        let text = reqwest::get(format!("http://{}/metrics", self.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter(|(series, _)| {
                let (n, labels) = series.split_once('{').unwrap_or((series, ""));
                n == name && labels.contains(label)
            })
            .map(|(_, v)| v.parse::<u64>().unwrap())
            .sum()
    }

    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.https.port())
    }

    pub fn http_url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.http.port())
    }

    /// Like [`Node::start`], with `listen_extra` (e.g. `https_public_port = 443`) added to the
    /// `[listen]` table, which `extra` cannot reopen.
    pub fn start_with_listen(listen_extra: &str, extra: &str) -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut n = Node::start_config(&dir, &config_text(&dir, listen_extra, extra));
        n._tmp = Some(tmp);
        n
    }

    /// Writes `text` as `dir/tlsedge.toml` and starts a node on it. The config must listen on
    /// loopback (port 0 is fine) and keep its admin token file at `dir/admin.token`.
    pub fn start_config(dir: &Path, text: &str) -> Node {
        let config = dir.join("tlsedge.toml");
        std::fs::write(&config, text).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("node did not start; log:\n{}", stderr.lock().unwrap());
            }
        };
        let addrs: HashMap<&str, SocketAddr> = line
            .strip_prefix("tlsedge listening ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .split(' ')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        let token = std::fs::read_to_string(dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        Node {
            child,
            dir: dir.to_path_buf(),
            _tmp: None,
            http: addrs["http"],
            https: addrs["https"],
            admin: addrs["admin"],
            token,
            stderr,
        }
    }
}

/// A node config on loopback port 0 with its files in `dir`; `listen_extra` goes into
/// `[listen]`, `extra` at the end.
pub fn config_text(dir: &Path, listen_extra: &str, extra: &str) -> String {
    format!(
        "[listen]\nhttp = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n{listen_extra}\n\n\
         [store]\npath = \"{d}/tlsedge.db\"\n\n[secrets]\nmaster_key_file = \"{d}/master.key\"\n\n\
         [admin]\ntoken_file = \"{d}/admin.token\"\n\n{extra}\n",
        d = dir.display()
    )
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal with the `kill` command (the tests forbid unsafe code too).
pub fn unsafe_free_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

pub fn wait_exit(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < deadline,
            "process did not exit within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A reqwest builder for the edge: names resolve to the node's listeners, only `ca_pem` is
/// trusted, redirects are not followed.
pub fn client_builder(ca_pem: &str, names: &[&str], node: &Node) -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20));
    for n in names {
        b = b.resolve(n, node.https).resolve(n, node.http);
    }
    b
}
