//! Helpers shared by the tests that drive the real `faxserver serve` binary: a small
//! HTTP/1.1 client, polling with a deadline, and a server process with its stdout lines.

// Each test binary uses its own subset.
#![allow(dead_code)]

pub mod esl;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

// ---- a small HTTP/1.1 client (Connection: close) ----

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<(&str, &[u8])>,
) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !auth.is_empty() {
        req.push_str(&format!("Authorization: {auth}\r\n"));
    }
    let bytes = body.map_or(&[][..], |(_, b)| b);
    if let Some((ct, _)) = body {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(bytes).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the reply");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete reply");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Reply { status, body }
}

pub fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let Some(chunk) = b.get(eol + 2..eol + 2 + size) else {
            break;
        };
        out.extend_from_slice(chunk);
        b = b.get(eol + 4 + size..).unwrap_or_default();
    }
    out
}

pub fn basic(user: &str, password: &str) -> String {
    // Base64 by hand: the root package has no base64 crate, and this is eight lines.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

pub fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

pub fn post_json(addr: SocketAddr, path: &str, key: &str, body: Value) -> Value {
    let text = body.to_string();
    let r = http(
        addr,
        "POST",
        path,
        &bearer(key),
        Some(("application/json", text.as_bytes())),
    );
    assert!(
        r.status < 300,
        "POST {path}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// Polls `check` until it gives a value or `limit` passes.
pub fn until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        // Pacing between polls; the condition, not the pause, ends the wait.
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- a faxserver serve process ----

pub struct Server {
    pub child: Child,
    pub api: SocketAddr,
    pub sip: SocketAddr,
    /// The Event Socket, when enabled.
    pub esl: Option<SocketAddr>,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: PathBuf,
}

impl Server {
    pub fn start(dir: &Path, name: &str, config: &Value, env: &[(&str, &str)]) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let config_path = dir.join(format!("{name}.json"));
        std::fs::write(&config_path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
        let stderr = dir.join(format!("{name}.stderr"));
        let err_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_faxserver"));
        cmd.arg("serve")
            .env("FAXSERVER_CONFIG", &config_path)
            .env("FAXSERVER_DATA_DIR", dir.join("data"))
            .env("RUST_LOG", "info,spandsp=error")
            .env_remove("FAXSERVER_ADMIN_API_KEY")
            .env_remove("FAXSERVER_DATABASE_URL")
            .env_remove("FAXSERVER_API_LISTEN")
            .env_remove("FAXSERVER_SIP_LISTEN")
            .stdout(Stdio::piped())
            .stderr(err_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start faxserver serve");
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let keep = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let (mut api, mut sip, mut esl) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while api.is_none() || sip.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{name} did not start; stderr:\n{}", tail(&stderr)));
            if let Some(a) = line.strip_prefix("api listening on ") {
                api = a.parse().ok();
            }
            if let Some(a) = line.strip_prefix("sip listening on ") {
                sip = a.parse().ok();
            }
            if let Some(a) = line.strip_prefix("esl listening on ") {
                esl = a.parse().ok();
            }
        }
        Server {
            child,
            api: api.unwrap(),
            sip: sip.unwrap(),
            esl,
            stdout: lines,
            stderr,
        }
    }

    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                tail(&self.stderr)
            );
            // Pacing between polls of the exit status.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

pub fn config(ports: &str, key: &str, extra: Value) -> Value {
    let mut c = json!({
        "web": {"listen": "127.0.0.1:0", "api_key": key},
        "sip": {"listen": "127.0.0.1:0", "media_ports": ports, "media_speed": 8},
    });
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    c
}

/// Submits a fax through `/fax/send` (multipart, as gofaxserver clients do); the job id.
pub fn send_fax(api: SocketAddr, auth: &str, tiff: &[u8], caller: &str, callee: &str) -> String {
    let boundary = "faxserverboundary7";
    let mut body = Vec::new();
    for (name, value) in [("caller_number", caller), ("callee_number", callee)] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fax.tif\"\r\nContent-Type: image/tiff\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(tiff);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = http(api, "POST", "/fax/send", auth, Some((&ct, &body)));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    r.json()["job_uuid"].as_str().unwrap().to_owned()
}
