//! A SIP gateway that rings forever: every INVITE gets 100 Trying and 180 Ringing, and the
//! time it arrived is kept by callee, so the bench can measure submit → first INVITE and keep
//! jobs active (a ringing call stays in the tracker until its ring timer ends).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The ringing gateway; stops when dropped.
pub struct RingingPeer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// First INVITE arrival per callee number (Request-URI user).
    pub invites: Arc<Mutex<HashMap<String, Instant>>>,
    stop: Arc<AtomicBool>,
}

impl RingingPeer {
    /// Binds on loopback and answers on its own thread.
    pub fn start() -> RingingPeer {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind the ringing peer");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        let addr = sock.local_addr().expect("peer address");
        let invites = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, flag) = (invites.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !flag.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let at = Instant::now();
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let method = text.split(' ').next().unwrap_or_default();
                match method {
                    "INVITE" => {
                        if let Some(user) = request_user(&text) {
                            seen.lock().unwrap().entry(user).or_insert(at);
                        }
                        let _ = sock.send_to(reply(&text, "100 Trying", false).as_bytes(), from);
                        let _ = sock.send_to(reply(&text, "180 Ringing", true).as_bytes(), from);
                    }
                    "OPTIONS" | "CANCEL" | "BYE" => {
                        let _ = sock.send_to(reply(&text, "200 OK", true).as_bytes(), from);
                    }
                    _ => {}
                }
            }
        });
        RingingPeer {
            addr,
            invites,
            stop,
        }
    }
}

impl Drop for RingingPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The user part of the Request-URI (`INVITE sip:+15551234567@host SIP/2.0`).
fn request_user(request: &str) -> Option<String> {
    let uri = request.lines().next()?.split(' ').nth(1)?;
    let rest = uri.strip_prefix("sip:")?;
    Some(rest.split('@').next()?.to_owned())
}

/// A response echoing the dialog-forming headers of `request`.
fn reply(request: &str, status: &str, tag: bool) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for line in request.split("\r\n").skip(1) {
        if line.is_empty() {
            break;
        }
        let name = line.split(':').next().unwrap_or_default().trim();
        match name.to_ascii_lowercase().as_str() {
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            "to" | "t" if tag && !line.contains(";tag=") => {
                out.push_str(line);
                out.push_str(";tag=ring1\r\n");
            }
            "to" | "t" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            _ => {}
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}
