//! A real SMTP server on loopback: `smtp_server.py` (Debian's python3-aiosmtpd) as a child
//! process, and a throw-away CA with a certificate for 127.0.0.1 made with `openssl`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How the test server protects connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain SMTP.
    None,
    /// STARTTLS required.
    StartTls,
    /// Implicit TLS.
    Tls,
}

/// A CA and a server certificate for 127.0.0.1.
pub struct TlsFiles {
    _dir: tempfile::TempDir,
    /// The CA certificate (PEM), for the client to trust.
    pub ca_pem: Vec<u8>,
    /// Server certificate file.
    pub cert: PathBuf,
    /// Server key file.
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian's openssl package) runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a CA and a certificate for 127.0.0.1 signed by it (rustls refuses a self-signed
/// server certificate used as its own trust anchor).
pub fn tls_files() -> TlsFiles {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=notify test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(d, &ca);
    let mut leaf = vec!["req"];
    leaf.extend(ec);
    leaf.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(d, &leaf);
    std::fs::write(
        d.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    TlsFiles {
        ca_pem: std::fs::read(d.join("ca.pem")).expect("ca"),
        cert: d.join("leaf.pem"),
        key: d.join("leaf.key"),
        _dir: dir,
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// One message as the server stored it.
#[derive(Debug)]
pub struct Stored {
    /// The bytes received after DATA.
    pub raw: Vec<u8>,
    /// The user that authenticated, `-` for none.
    pub auth: String,
    /// Whether the session was encrypted.
    pub tls: bool,
    /// Envelope recipients.
    pub to: Vec<String>,
}

/// The running server; killed when dropped.
pub struct SmtpServer {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts the server and returns once it listens.
    pub async fn start(
        port: u16,
        mode: Mode,
        tls: Option<&TlsFiles>,
        auth: Option<(&str, &str)>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir.path())
            .arg("--mode")
            .arg(match mode {
                Mode::None => "none",
                Mode::StartTls => "starttls",
                Mode::Tls => "tls",
            });
        if let Some(t) = tls {
            cmd.arg("--cert").arg(&t.cert).arg("--key").arg(&t.key);
        }
        if let Some((u, p)) = auth {
            cmd.args(["--user", u, "--password", p]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with aiosmtpd (scripts/install-deps.sh installs python3-aiosmtpd)");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next_line().await.expect("read").unwrap_or_default();
        assert_eq!(first, "READY", "smtp_server.py did not start");
        SmtpServer {
            _child: child,
            lines,
            _dir: dir,
        }
    }

    /// Waits for the next stored message (a failed send would otherwise wait forever).
    pub async fn next_message(&mut self) -> Stored {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("no message reached the SMTP server within 30 s")
            .expect("read")
            .expect("server exited");
        let mut parts = line.split(' ');
        assert_eq!(parts.next(), Some("MESSAGE"), "{line}");
        let path = parts.next().expect("path");
        let mut s = Stored {
            raw: std::fs::read(path).expect("message file"),
            auth: String::new(),
            tls: false,
            to: Vec::new(),
        };
        for p in parts {
            match p.split_once('=') {
                Some(("auth", v)) => s.auth = v.to_owned(),
                Some(("tls", v)) => s.tls = v == "1",
                Some(("to", v)) => s.to = v.split(',').map(str::to_owned).collect(),
                _ => {}
            }
        }
        s
    }
}
