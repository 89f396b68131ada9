//! A minimal blocking HTTP/1.1 client (one connection per request, `Connection: close`), so
//! the figures measure the server and not a client library's pool.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

/// Status and body of a response.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body, de-chunked.
    pub body: Vec<u8>,
    /// `Retry-After` in seconds, when present.
    pub retry_after: Option<u64>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends one request and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<(&str, &[u8])>,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nConnection: close\r\n"
    );
    if let Some((ct, b)) = body {
        head.push_str(&format!(
            "Content-Type: {ct}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    if let Some((_, b)) = body {
        s.write_all(b)?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    let retry_after = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().ok())
            .flatten()
    });
    Ok(Reply {
        status,
        body,
        retry_after,
    })
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

/// `Authorization: Bearer …`.
pub fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// POSTs JSON with the admin key and returns the JSON answer; panics on a non-2xx status
/// (provisioning must work for the bench to mean anything).
pub fn post_json(addr: SocketAddr, path: &str, key: &str, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).expect("JSON");
    let r = request(
        addr,
        "POST",
        path,
        &bearer(key),
        Some(("application/json", &bytes)),
    )
    .expect("provisioning request");
    assert!(
        (200..300).contains(&r.status),
        "{path}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// A multipart `/fax/send` body and its content type.
pub fn fax_form(caller: &str, callee: &str, file: &[u8], filename: &str) -> (String, Vec<u8>) {
    let boundary = "faxserverbench7";
    let mut body = Vec::new();
    for (name, value) in [("caller_number", caller), ("callee_number", callee)] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
