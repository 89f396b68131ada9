//! A raw Event Socket client speaking FreeSWITCH's wire format (`auth/request`, `auth`,
//! `event plain`, `api`/`bgapi`, `text/event-plain` frames with URL-encoded values).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A read that takes longer fails the test.
const READ_LIMIT: Duration = Duration::from_secs(180);

/// One frame: its headers (values URL-decoded for events) and body.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Frame {
    /// A header's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Event-Subclass` for CUSTOM events, else `Event-Name`.
    pub fn name(&self) -> String {
        self.get("Event-Subclass")
            .filter(|s| !s.is_empty())
            .or_else(|| self.get("Event-Name"))
            .unwrap_or_default()
            .to_owned()
    }
}

/// A connection to an Event Socket, authenticated and subscribed to every event.
pub struct Esl {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    events: VecDeque<Frame>,
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_headers(text: &str, decode: bool) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| {
            let v = if decode { url_decode(v) } else { v.to_owned() };
            (k.to_owned(), v)
        })
        .collect()
}

impl Esl {
    /// Connects, authenticates with `password` and subscribes to every event.
    pub fn connect(addr: SocketAddr, password: &str) -> Esl {
        let s = TcpStream::connect(addr).expect("connect to the Event Socket");
        s.set_read_timeout(Some(READ_LIMIT)).unwrap();
        let mut esl = Esl {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            events: VecDeque::new(),
        };
        let greeting = esl.frame();
        assert_eq!(greeting.get("Content-Type"), Some("auth/request"));
        let r = esl.command(&format!("auth {password}"));
        assert_eq!(r.get("Reply-Text"), Some("+OK accepted"), "{r:?}");
        let r = esl.command("event plain ALL");
        assert!(
            r.get("Reply-Text").unwrap_or("").starts_with("+OK"),
            "{r:?}"
        );
        esl
    }

    /// The next frame off the wire.
    fn frame(&mut self) -> Frame {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .expect("read from the Event Socket");
            assert!(n > 0, "the Event Socket closed");
            if line == "\n" {
                if head.is_empty() {
                    continue;
                }
                break;
            }
            head.push_str(&line);
        }
        let headers = parse_headers(&head, false);
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "Content-Length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        Frame {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Sends a command; its reply (events read meanwhile are kept for [`Esl::event`]).
    pub fn command(&mut self, cmd: &str) -> Frame {
        self.writer
            .write_all(format!("{cmd}\n\n").as_bytes())
            .unwrap();
        loop {
            let f = self.frame();
            match f.get("Content-Type") {
                Some("command/reply" | "api/response") => return f,
                Some("text/event-plain") => self.events.push_back(event_of(&f)),
                _ => {}
            }
        }
    }

    /// The next event.
    pub fn event(&mut self) -> Frame {
        if let Some(e) = self.events.pop_front() {
            return e;
        }
        loop {
            let f = self.frame();
            if f.get("Content-Type") == Some("text/event-plain") {
                return event_of(&f);
            }
        }
    }
}

/// An event frame's body as an event.
fn event_of(f: &Frame) -> Frame {
    let (head, body) = f.body.split_once("\n\n").unwrap_or((&f.body, ""));
    Frame {
        headers: parse_headers(head, true),
        body: body.to_owned(),
    }
}
