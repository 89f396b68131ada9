//! Helpers shared by fs-compat's integration tests: a store, a recording backend, a running
//! Event Socket, and a raw client that reads frames exactly as they come off the wire.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use engine::call::FaxDirection;
use engine::events::{CallInfo, EngineEvent, EventBus};
use fs_compat::api::HangupTarget;
use fs_compat::{EslBackend, EslConfig, EslDeps, EslServer, FaxRequest};
use store::{NewGateway, SqliteStore, Store, Transport};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for anything a test waits for; reaching it is a failure, not a pace.
pub const LIMIT: Duration = Duration::from_secs(20);

/// The password of test servers.
pub const PASSWORD: &str = "ClueCon";

/// What the fake backend was asked, and what it does on `originate`.
pub struct FakeBackend {
    pub bus: EventBus,
    pub requests: Mutex<Vec<FaxRequest>>,
    pub hangups: Mutex<Vec<(HangupTarget, String)>>,
    pub reloads: Mutex<u32>,
    /// When set, `submit_fax` publishes a created + answered call for the job.
    pub answer: bool,
}

impl FakeBackend {
    pub fn new(bus: EventBus, answer: bool) -> Self {
        FakeBackend {
            bus,
            requests: Mutex::new(Vec::new()),
            hangups: Mutex::new(Vec::new()),
            reloads: Mutex::new(0),
            answer,
        }
    }
}

/// A call of `job` through gateway `gw1`.
pub fn call_info(call_uuid: &str, job: Option<&str>, direction: FaxDirection) -> CallInfo {
    CallInfo {
        call_uuid: call_uuid.to_owned(),
        job_uuid: job.map(str::to_owned),
        tenant_id: Some(1),
        sip_call_id: format!("{call_uuid}@test"),
        direction,
        caller: "15550001".to_owned(),
        callee: "15551234".to_owned(),
        gateway: Some("gw1".to_owned()),
    }
}

#[async_trait]
impl EslBackend for FakeBackend {
    async fn submit_fax(&self, request: FaxRequest) -> Result<String, String> {
        let job = request.job_uuid.clone();
        self.requests.lock().unwrap().push(request);
        if self.answer {
            let call = call_info("engine-call-1", Some(&job), FaxDirection::Send);
            self.bus
                .publish(EngineEvent::CallCreated { call: call.clone() });
            self.bus.publish(EngineEvent::CallAnswered { call });
        }
        Ok(job)
    }

    async fn hangup(&self, target: &HangupTarget, cause: &str) -> bool {
        self.hangups
            .lock()
            .unwrap()
            .push((target.clone(), cause.to_owned()));
        target.call_uuid.is_some()
    }

    async fn hangup_all(&self, _cause: &str) -> usize {
        0
    }

    async fn reload(&self) -> Result<(), String> {
        *self.reloads.lock().unwrap() += 1;
        Ok(())
    }

    async fn gateway_state(&self, name: &str) -> Option<String> {
        (name == "gw1").then(|| "REGED".to_owned())
    }
}

/// A server on a fresh SQLite store with a gateway `gw1`.
pub struct Fixture {
    pub dir: TempDir,
    pub store: Arc<dyn Store>,
    pub bus: EventBus,
    pub backend: Arc<FakeBackend>,
    pub server: EslServer,
}

pub async fn store(dir: &TempDir) -> Arc<dyn Store> {
    let store = SqliteStore::open(&dir.path().join("test.sqlite"))
        .await
        .expect("open store");
    store
        .create_gateway(&NewGateway {
            name: "gw1".to_owned(),
            uri: "sip:carrier.example:5060".to_owned(),
            transport: Transport::Udp,
            username: Some("faxuser".to_owned()),
            password: Some("secret".to_owned()),
            register: true,
            allowed_sources: vec!["127.0.0.1".to_owned()],
            tenant_id: None,
            t38_allowed: true,
        })
        .await
        .expect("gateway");
    Arc::new(store)
}

pub async fn fixture_with(answer: bool, config: EslConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let bus = EventBus::new();
    let backend = Arc::new(FakeBackend::new(bus.clone(), answer));
    let server = fs_compat::spawn(
        EslConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            password: PASSWORD.to_owned(),
            hostname: Some("faxhost".to_owned()),
            ..config
        },
        EslDeps {
            store: Arc::clone(&store),
            bus: bus.clone(),
            backend: backend.clone(),
        },
    )
    .await
    .expect("spawn")
    .expect("listening");
    Fixture {
        dir,
        store,
        bus,
        backend,
        server,
    }
}

pub async fn fixture() -> Fixture {
    fixture_with(true, EslConfig::default()).await
}

/// One server-to-client message: its header block as sent, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub head: String,
    pub body: String,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            (n == name).then_some(v)
        })
    }

    /// The whole message as it was on the wire.
    pub fn wire(&self) -> String {
        format!("{}{}", self.head, self.body)
    }

    /// Headers of a plain event body, URL-decoded.
    pub fn event_header(&self, name: &str) -> Option<String> {
        self.body.lines().find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            (n == name).then(|| fs_compat::esl::urlenc::decode(v))
        })
    }
}

/// A client that reads frames byte-exactly.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub async fn connect(fx: &Fixture) -> RawClient {
        let stream = TcpStream::connect(fx.server.local_addr()).await.unwrap();
        RawClient {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects, checks the greeting and authenticates.
    pub async fn authenticated(fx: &Fixture) -> RawClient {
        let mut c = RawClient::connect(fx).await;
        assert_eq!(c.read().await.wire(), "Content-Type: auth/request\n\n");
        assert_eq!(
            c.command(&format!("auth {PASSWORD}")).await.wire(),
            "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        );
        c
    }

    pub async fn send(&mut self, raw: &[u8]) {
        self.stream.write_all(raw).await.unwrap();
    }

    /// Sends `line` framed as a command and reads the next message.
    pub async fn command(&mut self, line: &str) -> Message {
        self.send(format!("{line}\n\n").as_bytes()).await;
        self.read().await
    }

    /// The next message (fails the test after [`LIMIT`]).
    pub async fn read(&mut self) -> Message {
        tokio::time::timeout(LIMIT, self.read_inner())
            .await
            .expect("a message in time")
            .expect("a message before the connection closed")
    }

    /// The next message, or `None` when the server closed the connection.
    pub async fn try_read(&mut self) -> Option<Message> {
        tokio::time::timeout(LIMIT, self.read_inner())
            .await
            .expect("a message or the end in time")
    }

    async fn read_inner(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let head = String::from_utf8(self.buf[..end + 2].to_vec()).unwrap();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map_or(0, |n| n.parse().unwrap());
                if self.buf.len() >= end + 2 + len {
                    let body =
                        String::from_utf8(self.buf[end + 2..end + 2 + len].to_vec()).unwrap();
                    self.buf.drain(..end + 2 + len);
                    return Some(Message { head, body });
                }
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                assert!(
                    self.buf.is_empty(),
                    "partial message at close: {:?}",
                    self.buf
                );
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next event whose `Event-Name` (or subclass) is `name`, skipping others.
    pub async fn event_named(&mut self, name: &str) -> Message {
        loop {
            let m = self.read().await;
            let is = m.event_header("Event-Name").as_deref() == Some(name)
                || m.event_header("Event-Subclass").as_deref() == Some(name);
            if is {
                return m;
            }
        }
    }
}
