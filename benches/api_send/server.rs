//! One `faxserver serve` process for the bench: a fresh data directory, SQLite, the API and
//! SIP on loopback; the addresses are read from the lines it prints when ready.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    /// The API address.
    pub api: SocketAddr,
}

impl Server {
    /// Starts `faxserver serve` with `config` written to `dir`.
    pub fn start(dir: &Path, key: &str, config: &Value) -> Server {
        std::fs::create_dir_all(dir).expect("bench directory");
        let path = dir.join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(config).expect("config")).expect("write");
        let log = std::fs::File::create(dir.join("server.stderr")).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_faxserver"))
            .arg("serve")
            .env("FAXSERVER_CONFIG", &path)
            .env("FAXSERVER_DATA_DIR", dir.join("data"))
            .env("FAXSERVER_ADMIN_API_KEY", key)
            .env("RUST_LOG", "warn,spandsp=error")
            .env_remove("FAXSERVER_DATABASE_URL")
            .env_remove("FAXSERVER_API_LISTEN")
            .env_remove("FAXSERVER_SIP_LISTEN")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start faxserver serve");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut api = None;
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            if let Some(a) = line.strip_prefix("api listening on ") {
                api = a.parse().ok();
                break;
            }
        }
        let Some(api) = api else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "faxserver serve did not start; see {}",
                dir.join("server.stderr").display()
            );
        };
        Server { child, api }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
