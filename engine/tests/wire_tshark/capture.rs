//! Live capture with tshark on the loopback interface, and reading captures back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::{GUARD, LOCALHOST};

/// True (after saying so) when tshark is not installed.
pub fn tshark_missing() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIPPED: tshark is not installed (scripts/install-deps.sh installs it)");
    }
    !found
}

/// A running `tshark -i lo` capture of one UDP port.
///
/// tshark prints "Capturing on" a little before packets really reach it, so the start is
/// confirmed by probes: datagrams from a probe socket to itself, on a second port in the
/// capture filter, sent until tshark reports one. Every packet's source port is printed as it
/// is written, so the probes are told apart and the end is known too.
pub struct Capture {
    child: Option<Child>,
    path: PathBuf,
    /// Packets of the call written so far (probes not counted).
    frames: Arc<AtomicUsize>,
    written: mpsc::Receiver<()>,
    stderr: Arc<Mutex<String>>,
}

impl Capture {
    /// Starts capturing `udp and port <port>` and returns once packets are being captured.
    pub fn start(port: u16, dir: &Path) -> Capture {
        let path = dir.join(format!("udp-{port}.pcapng"));
        let probe = std::net::UdpSocket::bind((LOCALHOST, 0)).expect("probe socket");
        let probe_addr = probe.local_addr().expect("probe address");
        let filter = format!("udp and (port {port} or port {})", probe_addr.port());
        // `-P -l -T fields` prints one line per packet written, as it is written.
        let mut child = Command::new("tshark")
            .args(["-i", "lo", "-s", "2048", "-B", "32", "-f", &filter, "-w"])
            .arg(&path)
            .args(["-P", "-l", "-T", "fields", "-e", "udp.srcport"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tshark");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (started_tx, started_rx) = mpsc::channel();
        let err_pipe = child.stderr.take().expect("stderr piped");
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                if line.contains("Capturing on") {
                    let _ = started_tx.send(());
                }
                if let Ok(mut log) = log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let frames = Arc::new(AtomicUsize::new(0));
        let (written_tx, written) = mpsc::channel();
        let (probed_tx, probed_rx) = mpsc::channel();
        let out_pipe = child.stdout.take().expect("stdout piped");
        let count = Arc::clone(&frames);
        let probe_port = probe_addr.port().to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines().map_while(Result::ok) {
                if line.trim() == probe_port {
                    let _ = probed_tx.send(());
                } else {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = written_tx.send(());
                }
            }
        });
        let mut capture = Capture {
            child: Some(child),
            path,
            frames,
            written,
            stderr,
        };
        if started_rx.recv_timeout(GUARD).is_err() {
            capture.kill();
            panic!("tshark did not start capturing:\n{}", capture.log());
        }
        // Probe until one is seen; each probe is also a chance for tshark to catch up.
        let deadline = Instant::now() + GUARD;
        loop {
            let _ = probe.send_to(b"probe", probe_addr);
            if probed_rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                capture.kill();
                panic!("tshark captured none of its probes:\n{}", capture.log());
            }
        }
        capture
    }

    fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until tshark has written `expected` packets, stops it cleanly (SIGINT) and
    /// returns the capture file.
    pub fn stop(mut self, expected: usize) -> PathBuf {
        let deadline = Instant::now() + GUARD;
        while self.frames.load(Ordering::SeqCst) < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.written.recv_timeout(left) {
                Ok(()) => {}
                Err(_) => break,
            }
        }
        let got = self.frames.load(Ordering::SeqCst);
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        if got != expected {
            panic!(
                "tshark captured {got} of the {expected} datagrams sent:\n{}",
                self.log()
            );
        }
        self.path.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `tshark -r <file> <args>` and returns its output lines, split at tabs.
pub fn tshark_read(file: &Path, args: &[&str]) -> Vec<Vec<String>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
