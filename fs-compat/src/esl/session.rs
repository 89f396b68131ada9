//! One Event Socket connection as a sans-IO state machine: frames in, [`Action`]s out.
//!
//! The shell (`server`) writes what it is told, runs API commands, and asks
//! [`Session::encode_event`] whether each published event goes to this client.

use super::codec::{self, Frame, GOODBYE};
use super::command::{self, Command};
use super::event::EslEvent;
use super::subscription::Subscriptions;

/// What the shell must do after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Run an API command and write its `api/response`.
    Api {
        /// The command (`status`, `db`, …).
        command: String,
        /// Its argument.
        arg: Option<String>,
    },
    /// Run an API command in the background and publish a `BACKGROUND_JOB` event (the
    /// `+OK Job-UUID` reply has already been queued as a [`Action::Send`]).
    BgApi {
        /// The job's id, as given in the reply.
        job_uuid: String,
        /// The command.
        command: String,
        /// Its argument.
        arg: Option<String>,
    },
    /// Publish an event built from a `sendevent` command.
    Publish(EslEvent),
    /// Write the disconnect notice and close the connection.
    Close,
}

/// The state of one connection.
#[derive(Debug)]
pub struct Session {
    password: String,
    authenticated: bool,
    log_level: Option<u8>,
    subscriptions: Subscriptions,
}

/// The longest `Job-UUID` FreeSWITCH keeps from a `bgapi` header (a formatted UUID).
const JOB_UUID_MAX: usize = 36;

impl Session {
    /// A connection that must authenticate with `password`.
    pub fn new(password: impl Into<String>) -> Self {
        Session {
            password: password.into(),
            authenticated: false,
            log_level: None,
            subscriptions: Subscriptions::new(),
        }
    }

    /// What the server says first.
    pub fn greeting(&self) -> Vec<u8> {
        codec::auth_request()
    }

    /// Whether `auth` succeeded.
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// The log level asked for with `log`, if logging is on.
    pub fn log_level(&self) -> Option<u8> {
        self.log_level
    }

    /// The connection's subscriptions.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    /// Handles one frame; `new_uuid` makes ids for jobs and events.
    pub fn handle(&mut self, frame: &Frame, new_uuid: &mut dyn FnMut() -> String) -> Vec<Action> {
        let reply = |text: &str| Action::Send(codec::command_reply(text));
        match command::parse(&frame.command, self.authenticated) {
            Command::Exit => vec![reply("+OK bye"), Action::Close],
            Command::Auth(password) => {
                if constant_time_eq(password.as_bytes(), self.password.as_bytes()) {
                    self.authenticated = true;
                    vec![reply("+OK accepted")]
                } else {
                    vec![reply("-ERR invalid"), Action::Close]
                }
            }
            Command::UserAuth => vec![reply("-ERR invalid"), Action::Close],
            Command::NotAuthenticated | Command::Unknown => vec![reply("-ERR command not found")],
            Command::Filter(words) => vec![reply(&self.subscriptions.filter(&words))],
            Command::MyEvents(words) => vec![reply(&self.subscriptions.myevents(&words))],
            Command::DivertEvents => vec![reply("-ERR not controlling a session.")],
            Command::SendMsg(uuid) => {
                let uuid = if uuid.is_empty() {
                    frame.header("session-id").unwrap_or_default().to_owned()
                } else {
                    uuid
                };
                vec![reply(&format!("-ERR invalid session id [{uuid}]"))]
            }
            Command::SendEvent(name) => {
                let uuid = new_uuid();
                let event = sendevent(&name, frame, &uuid);
                vec![reply(&format!("+OK {uuid}")), Action::Publish(event)]
            }
            Command::Api { command, arg } => vec![Action::Api { command, arg }],
            Command::BgApi { command, arg } => {
                let job_uuid = frame
                    .header("job-uuid")
                    .map(|u| truncate(u, JOB_UUID_MAX).to_owned())
                    .unwrap_or_else(&mut *new_uuid);
                vec![
                    Action::Send(codec::bgapi_reply(&job_uuid)),
                    Action::BgApi {
                        job_uuid,
                        command,
                        arg,
                    },
                ]
            }
            Command::Log(word) => match command::log_level(&word) {
                Some(level) => {
                    self.log_level = Some(level);
                    vec![reply(&format!("+OK log level {word} [{level}]"))]
                }
                None => vec![reply("-ERR invalid log level")],
            },
            Command::Linger | Command::NoLinger => vec![reply("-ERR not controlling a session")],
            Command::NoLog => {
                if self.log_level.take().is_some() {
                    vec![reply("+OK no longer logging")]
                } else {
                    // FreeSWITCH's spelling.
                    vec![reply("-ERR not loging")]
                }
            }
            Command::Event(words) => vec![reply(&self.subscriptions.event(&words))],
            Command::NixEvent(words) => vec![reply(&self.subscriptions.nixevent(&words))],
            Command::NoEvents => vec![reply(&self.subscriptions.noevents())],
        }
    }

    /// The bytes to send this client for `event`, or `None` when it did not ask for it.
    pub fn encode_event(&self, event: &EslEvent) -> Option<Vec<u8>> {
        if !self.authenticated || !self.subscriptions.wants(event) {
            return None;
        }
        let format = self.subscriptions.format();
        Some(codec::event_frame(
            format.as_str(),
            &event.serialize(format),
        ))
    }

    /// The notice written before the server closes the connection.
    pub fn goodbye(&self) -> Vec<u8> {
        codec::disconnect_notice(GOODBYE)
    }
}

/// Compares secrets without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The event a `sendevent` frame describes: its headers, `Event-UUID`, and its body.
fn sendevent(name: &str, frame: &Frame, uuid: &str) -> EslEvent {
    let mut event = EslEvent::new();
    let known = super::names::event_name(name).unwrap_or("CUSTOM");
    if frame.header("Event-Name").is_none() {
        event.push("Event-Name", known);
    }
    for (n, v) in &frame.headers {
        if !n.eq_ignore_ascii_case("Content-Length") {
            event.push(n.clone(), v.clone());
        }
    }
    event.push("Event-UUID", uuid);
    if let Some(body) = &frame.body {
        event.set_body(String::from_utf8_lossy(body).into_owned());
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(command: &str) -> Frame {
        Frame {
            command: command.to_owned(),
            ..Frame::default()
        }
    }

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("uuid-{n}")
        }
    }

    fn sent(actions: &[Action]) -> String {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn authentication() {
        let mut ids = counter();
        let mut s = Session::new("ClueCon");
        assert_eq!(s.greeting(), b"Content-Type: auth/request\n\n");
        let a = s.handle(&frame("api status"), &mut ids);
        assert_eq!(
            sent(&a),
            "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"
        );
        let a = s.handle(&frame("auth nope"), &mut ids);
        assert_eq!(
            sent(&a),
            "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"
        );
        assert_eq!(a.last(), Some(&Action::Close));
        let mut s = Session::new("ClueCon");
        let a = s.handle(&frame("auth ClueCon"), &mut ids);
        assert_eq!(
            sent(&a),
            "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        );
        assert!(s.authenticated());
    }

    #[test]
    fn commands_after_authentication() {
        let mut ids = counter();
        let mut s = Session::new("pw");
        s.handle(&frame("auth pw"), &mut ids);
        let mut bg = frame("bgapi status");
        bg.headers.push((
            "Job-UUID".into(),
            "0123456789012345678901234567890123456789".into(),
        ));
        let a = s.handle(&bg, &mut ids);
        assert_eq!(
            sent(&a),
            "Content-Type: command/reply\nReply-Text: +OK Job-UUID: 012345678901234567890123456789012345\nJob-UUID: 012345678901234567890123456789012345\n\n"
        );
        let a = s.handle(&frame("bgapi version"), &mut ids);
        assert!(matches!(&a[1], Action::BgApi { job_uuid, .. } if job_uuid == "uuid-1"));
        assert_eq!(
            sent(&s.handle(&frame("log"), &mut ids)),
            "Content-Type: command/reply\nReply-Text: +OK log level  [7]\n\n"
        );
        assert_eq!(
            sent(&s.handle(&frame("nolog"), &mut ids)),
            "Content-Type: command/reply\nReply-Text: +OK no longer logging\n\n"
        );
        assert_eq!(
            sent(&s.handle(&frame("linger"), &mut ids)),
            "Content-Type: command/reply\nReply-Text: -ERR not controlling a session\n\n"
        );
        assert_eq!(
            s.handle(&frame("exit"), &mut ids),
            vec![
                Action::Send(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n".to_vec()),
                Action::Close
            ]
        );
    }

    #[test]
    fn events_reach_only_subscribers() {
        let mut ids = counter();
        let mut s = Session::new("pw");
        let mut e = EslEvent::new();
        e.push("Event-Name", "HEARTBEAT");
        assert_eq!(s.encode_event(&e), None);
        s.handle(&frame("auth pw"), &mut ids);
        assert_eq!(s.encode_event(&e), None);
        s.handle(&frame("event plain HEARTBEAT"), &mut ids);
        assert_eq!(
            String::from_utf8(s.encode_event(&e).unwrap()).unwrap(),
            "Content-Length: 23\nContent-Type: text/event-plain\n\nEvent-Name: HEARTBEAT\n\n"
        );
        let mut send = frame("sendevent HEARTBEAT");
        send.headers.push(("X-Test".into(), "1".into()));
        let a = s.handle(&send, &mut ids);
        match &a[1] {
            Action::Publish(e) => {
                assert_eq!(e.name(), "HEARTBEAT");
                assert_eq!(e.header("x-test"), Some("1"));
            }
            other => panic!("{other:?}"),
        }
    }
}
