//! Independent Event Socket clients against the server, watching a real loopback fax: the
//! Rust `eslrs` crate and the Python `greenswitch` package authenticate, run `api` and
//! `bgapi`, subscribe, and `originate` a fax the way gofaxserver did. The test's backend
//! places that fax over real SIP and UDP between two engine user agents (as
//! `engine/tests/calls.rs` does) and publishes what the calls report on the event bus, as the
//! engine's queue does in the server.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use engine::call::{
    run_incoming, run_outgoing, AgentConfig, FaxDirection, FaxJob, FaxOptions, MediaSettings,
    OutgoingCall, PeerAcl, Progress, SipAgent,
};
use engine::documents::{images_to_fax_tiff, ConvertOptions};
use engine::events::{CallInfo, EngineEvent, EventBus};
use engine::policy::t38_mode;
use fs_compat::api::HangupTarget;
use fs_compat::esl::urlenc;
use fs_compat::{EslBackend, EslConfig, EslDeps, EslServer, FaxRequest};
use media::ports::PortPool;
use spandsp::Direction;
use tokio::sync::mpsc;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Media clock speed of both ends (they are ours, so faster than real time is fine).
const SPEED: u32 = 8;
/// The whole test, fax included, must finish within this.
const TEST_LIMIT: Duration = Duration::from_secs(180);

/// Places each submitted fax as a real SIP call to a receiving agent on loopback.
struct LoopbackFax {
    bus: EventBus,
    dir: PathBuf,
    ports: std::ops::RangeInclusive<u16>,
}

/// Publishes a call's progress on the bus until `finish` is called, then what was queued.
///
/// Waiting for the channel to close would not do: the engine keeps a clone of the sender
/// past the end of the call.
fn forward(bus: EventBus, call: CallInfo) -> (mpsc::UnboundedSender<Progress>, Forwarder) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let publish = |p: Progress| {
            let call = call.clone();
            match p {
                Progress::Answered => bus.publish(EngineEvent::CallAnswered { call }),
                Progress::Negotiated {
                    bit_rate,
                    ecm,
                    remote_ident,
                } => bus.publish(EngineEvent::FaxNegotiated {
                    call,
                    bit_rate,
                    ecm,
                    remote_ident,
                }),
                Progress::Page(page) => bus.publish(EngineEvent::FaxPage { call, page }),
                _ => {}
            }
        };
        loop {
            tokio::select! {
                p = rx.recv() => match p {
                    Some(p) => publish(p),
                    None => return,
                },
                _ = &mut stopped => {
                    while let Ok(p) = rx.try_recv() {
                        publish(p);
                    }
                    return;
                }
            }
        }
    });
    (tx, Forwarder { stop, task })
}

/// The task [`forward`] started.
struct Forwarder {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    /// Publishes what the finished call reported and stops.
    async fn finish(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

impl LoopbackFax {
    async fn place(self: Arc<Self>, request: FaxRequest) {
        let pool = Arc::new(PortPool::new(self.ports.clone()).unwrap());
        let media = || {
            let mut m = MediaSettings::new(pool.clone(), LO);
            m.speed = SPEED;
            m
        };
        let mut rx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
        rx_cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
        let (rx_agent, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
        let (tx_agent, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
            .await
            .unwrap();
        let options = &request.options;
        let enable = options.enable_t38.unwrap_or(false);
        let sender = FaxOptions {
            ident: options.ident.clone().unwrap_or_default(),
            t38: t38_mode(enable, options.enable_t38_request.unwrap_or(false)),
            ecm: options.use_ecm.unwrap_or(true),
            ..FaxOptions::default()
        };
        let receiver = FaxOptions {
            ident: "LOOPBACK RX".to_owned(),
            t38: t38_mode(enable, false),
            ecm: true,
            ..FaxOptions::default()
        };
        let target = &request.targets[0];
        let tx_call = CallInfo {
            call_uuid: uuid::Uuid::new_v4().to_string(),
            job_uuid: Some(request.job_uuid.clone()),
            tenant_id: Some(1),
            sip_call_id: String::new(),
            direction: FaxDirection::Send,
            caller: request.caller_id_number.clone().unwrap_or_default(),
            callee: target.number.clone(),
            gateway: Some(target.gateway.clone()),
        };
        let rx_call = CallInfo {
            call_uuid: uuid::Uuid::new_v4().to_string(),
            job_uuid: None,
            direction: FaxDirection::Receive,
            gateway: None,
            ..tx_call.clone()
        };

        let bus = self.bus.clone();
        let rx_path = self.dir.join(format!("received-{}.tif", request.job_uuid));
        let rx_media = media();
        let receiving = tokio::spawn(async move {
            let call = incoming.recv().await.expect("an INVITE arrives");
            bus.publish(EngineEvent::CallCreated {
                call: rx_call.clone(),
            });
            let (progress, forwarding) = forward(bus.clone(), rx_call.clone());
            let job = FaxJob {
                direction: Direction::Receive { tiff: rx_path },
                options: receiver,
                cancel: None,
            };
            let report = run_incoming(call, job, &rx_media, Some(progress)).await;
            forwarding.finish().await;
            bus.publish(EngineEvent::CallEnded {
                call: rx_call,
                report: Box::new(report),
            });
        });

        self.bus.publish(EngineEvent::CallCreated {
            call: tx_call.clone(),
        });
        let uri = format!("sip:{}@{}", target.number, rx_agent.local_addr());
        let call = OutgoingCall::direct(&uri, &tx_call.caller, tx_agent.local_addr()).unwrap();
        let (progress, forwarding) = forward(self.bus.clone(), tx_call.clone());
        let job = FaxJob {
            direction: Direction::Send {
                tiff: request.document.clone(),
                first_page: 1,
            },
            options: sender,
            cancel: None,
        };
        let report = run_outgoing(&tx_agent, call, job, &media(), Some(progress)).await;
        forwarding.finish().await;
        receiving.await.unwrap();
        let success = report.is_success();
        self.bus.publish(EngineEvent::CallEnded {
            call: tx_call,
            report: Box::new(report),
        });
        self.bus.publish(if success {
            EngineEvent::JobDelivered {
                job_uuid: request.job_uuid.clone(),
                tenant_id: 1,
            }
        } else {
            EngineEvent::JobFailed {
                job_uuid: request.job_uuid.clone(),
                tenant_id: 1,
                reason: "fax failed".to_owned(),
            }
        });
    }
}

/// The backend: faxes go to [`LoopbackFax`]; nothing else is needed here.
struct Backend(Arc<LoopbackFax>);

#[async_trait]
impl EslBackend for Backend {
    async fn submit_fax(&self, request: FaxRequest) -> Result<String, String> {
        if !request.document.is_file() {
            return Err("INVALID_FILE".to_owned());
        }
        let job = request.job_uuid.clone();
        tokio::spawn(Arc::clone(&self.0).place(request));
        Ok(job)
    }

    async fn hangup(&self, _target: &HangupTarget, _cause: &str) -> bool {
        false
    }

    async fn hangup_all(&self, _cause: &str) -> usize {
        0
    }

    async fn reload(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A one-page fax document (ITU chart 1) in `dir`.
fn document(dir: &Path) -> PathBuf {
    // Located from this crate rather than through test-support, whose compiled-in path
    // belongs to whichever checkout built it last in a shared target directory.
    let chart = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/fax-images/spandsp_itu1.pbm");
    let chart = std::fs::read(&chart).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the checkout must sit beside shared/)",
            chart.display()
        )
    });
    let doc = images_to_fax_tiff(&[chart.as_slice()], &ConvertOptions::default()).unwrap();
    let path = dir.join("send.tif");
    std::fs::write(&path, doc.tiff).unwrap();
    path
}

async fn server(
    dir: &tempfile::TempDir,
    ports: std::ops::RangeInclusive<u16>,
    heartbeat: Option<Duration>,
) -> EslServer {
    let store = common::store(dir).await;
    let bus = EventBus::new();
    let backend = Backend(Arc::new(LoopbackFax {
        bus: bus.clone(),
        dir: dir.path().to_owned(),
        ports,
    }));
    fs_compat::spawn(
        EslConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            password: common::PASSWORD.to_owned(),
            heartbeat,
            ..EslConfig::default()
        },
        EslDeps {
            store,
            bus,
            backend: Arc::new(backend),
        },
    )
    .await
    .unwrap()
    .unwrap()
}

/// The names of what was seen: `Event-Subclass` for CUSTOM events, else `Event-Name`.
fn name_of(get: impl Fn(&str) -> Option<String>) -> String {
    get("Event-Subclass")
        .filter(|s| !s.is_empty())
        .or_else(|| get("Event-Name"))
        .unwrap_or_default()
}

/// The next event, past the `auth/request` greeting eslrs queues as one.
async fn next_event(conn: &mut eslrs::ESLConnection<tokio::net::TcpStream>) -> eslrs::event::Event {
    loop {
        let event = conn.recv().await.expect("an event");
        if event
            .get_content_type()
            .is_some_and(|t| t.starts_with("text/event-"))
        {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eslrs_client_follows_a_real_fax() {
    tokio::time::timeout(TEST_LIMIT, eslrs_session())
        .await
        .expect("eslrs session within the limit");
}

async fn eslrs_session() {
    use eslrs::event::PlainEvent;
    use eslrs::{Command, Inbound};

    let dir = tempfile::tempdir().unwrap();
    // eslrs 0.1.0-rc.3 hands out events it has read only when more bytes arrive, so the
    // last events of the call would wait for whatever comes next; FreeSWITCH's heartbeats
    // (here every 200 ms) keep the stream moving, as they do for its users.
    let server = server(&dir, 31000..=31999, Some(Duration::from_millis(200))).await;
    let doc = document(dir.path());
    let mut conn = Inbound::connect(server.local_addr(), common::PASSWORD)
        .await
        .expect("authenticated");

    let status = conn.send_recv(Command::api("status")).await.unwrap();
    assert_eq!(status.get_content_type(), Some("api/response"));
    let body = String::from_utf8(status.get_body().unwrap().to_vec()).unwrap();
    assert!(body.starts_with("UP 0 years, "), "{body}");
    assert!(body.contains(") is ready\n"));

    let r = conn
        .send_recv("event plain HEARTBEAT BACKGROUND_JOB CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_CALLSTATE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CUSTOM spandsp::txfaxnegociateresult spandsp::txfaxpageresult spandsp::txfaxresult")
        .await
        .unwrap();
    assert_eq!(
        r.get_header("Reply-Text"),
        Some("+OK event listener enabled plain")
    );

    let r = conn.send_recv("bgapi version").await.unwrap();
    let job_uuid = r.get_header("Job-UUID").expect("Job-UUID").to_owned();
    assert_eq!(
        r.get_header("Reply-Text"),
        Some(format!("+OK Job-UUID: {job_uuid}").as_str())
    );
    let job = loop {
        let event = next_event(&mut conn).await;
        assert_eq!(event.get_content_type(), Some("text/event-plain"));
        let event = PlainEvent::try_from(event).unwrap();
        if event.get_header("Event-Name") != Some("HEARTBEAT") {
            break event;
        }
    };
    assert_eq!(job.get_header("Event-Name"), Some("BACKGROUND_JOB"));
    assert_eq!(job.get_header("Job-UUID"), Some(job_uuid.as_str()));
    let body = String::from_utf8(job.get_body().unwrap().to_vec()).unwrap();
    assert!(body.starts_with("FreeSWITCH Version "), "{body}");

    let uuid = "0b7f5f9e-2c1d-4d2a-8d0e-abcde0000001".to_owned();
    let r = conn
        .send_recv(format!("filter Unique-ID {uuid}"))
        .await
        .unwrap();
    assert!(r.is_ok());
    let r = conn.send_recv("filter Event-Name HEARTBEAT").await.unwrap();
    assert!(r.is_ok());
    let originate = format!(
        "api originate {{ignore_early_media='true',origination_uuid='{uuid}',origination_caller_id_number='15550001',fax_ident='ESLRS SENDER',fax_header='eslrs',fax_use_ecm='true',fax_enable_t38='true',fax_enable_t38_request='true'}}sofia/gateway/gw1/15551234 &txfax({})",
        doc.display()
    );
    let r = conn.send_recv(originate).await.unwrap();
    let body = String::from_utf8(r.get_body().unwrap().to_vec()).unwrap();
    assert_eq!(body, format!("+OK {uuid}\n"));

    let mut seen = Vec::new();
    let mut result = None;
    loop {
        let event = PlainEvent::try_from(next_event(&mut conn).await).unwrap();
        let get = |h: &str| event.get_header(h).map(urlenc::decode);
        let name = name_of(get);
        if name == "HEARTBEAT" {
            continue;
        }
        assert_eq!(get("Unique-ID").as_deref(), Some(uuid.as_str()), "filtered");
        if name == "spandsp::txfaxresult" {
            result = Some(event.clone());
        }
        seen.push(name.clone());
        if name == "CHANNEL_HANGUP_COMPLETE" {
            break;
        }
    }
    for expected in [
        "CHANNEL_CREATE",
        "CHANNEL_ANSWER",
        "spandsp::txfaxnegociateresult",
        "spandsp::txfaxpageresult",
        "spandsp::txfaxresult",
        "CHANNEL_HANGUP",
    ] {
        assert!(seen.iter().any(|s| s == expected), "{expected} in {seen:?}");
    }
    let result = result.unwrap();
    let get = |h: &str| result.get_header(h).map(urlenc::decode);
    assert_eq!(get("fax-success").as_deref(), Some("1"));
    assert_eq!(get("fax-result-code").as_deref(), Some("0"));
    assert_eq!(get("fax-document-transferred-pages").as_deref(), Some("1"));
    assert_eq!(get("fax-document-total-pages").as_deref(), Some("1"));
    assert_eq!(get("fax-ecm-used").as_deref(), Some("on"));
    assert_eq!(get("fax-local-station-id").as_deref(), Some("ESLRS SENDER"));
    assert_eq!(get("fax-remote-station-id").as_deref(), Some("LOOPBACK RX"));
    assert_eq!(get("variable_fax_ecm_requested").as_deref(), Some("1"));
    assert!(get("fax-transfer-rate").is_some_and(|r| r.parse::<u32>().unwrap() >= 9600));
    server.shutdown().await;
}

/// A Python with greenswitch importable: `FAXSERVER_PYTHON` (set by
/// `scripts/install-deps.sh`), its default venv, or `python3`.
fn python_with_greenswitch() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("FAXSERVER_PYTHON") {
        candidates.push(p.into());
    }
    if let Ok(home) = std::env::var("HOME") {
        candidates.push(Path::new(&home).join(".cache/faxserver/venv/bin/python"));
    }
    candidates.push("python3".into());
    candidates.into_iter().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import greenswitch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greenswitch_client_follows_a_real_fax() {
    let Some(python) = python_with_greenswitch() else {
        if std::env::var_os("CI").is_some() {
            panic!("greenswitch is not installed: scripts/install-deps.sh installs it");
        }
        eprintln!("SKIPPED: greenswitch is not installed (run scripts/install-deps.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir, 32000..=32999, None).await;
    let doc = document(dir.path());
    let uuid = "6a1e0c3c-7d2b-4f5e-9a4b-000000000042";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/greenswitch_client.py");
    let output = tokio::time::timeout(
        TEST_LIMIT,
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg("127.0.0.1")
            .arg(server.local_addr().port().to_string())
            .arg(common::PASSWORD)
            .arg(&doc)
            .arg(uuid)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("greenswitch within the limit")
    .expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "greenswitch client failed:\n{stderr}"
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&output.stdout)));

    assert!(seen["status"].as_str().unwrap().starts_with("UP "));
    assert_eq!(seen["event_reply"], "+OK event listener enabled plain");
    let job = seen["bgapi_job_uuid"].as_str().unwrap();
    assert_eq!(seen["bgapi_reply"], format!("+OK Job-UUID: {job}"));
    assert_eq!(seen["background_job"]["Job-UUID"], job);
    assert_eq!(seen["background_job"]["Job-Command"], "version");
    assert_eq!(
        seen["filter_reply"],
        format!("+OK filter added. [Unique-ID]=[{uuid}]")
    );
    assert_eq!(seen["originate"], format!("+OK {uuid}\n"));
    assert_eq!(seen["completed"], true, "CHANNEL_HANGUP_COMPLETE seen");

    let events = seen["events"].as_array().unwrap();
    let header = |e: &serde_json::Value, h: &str| e[h].as_str().map(str::to_owned);
    let names: Vec<String> = events.iter().map(|e| name_of(|h| header(e, h))).collect();
    for e in events {
        assert_eq!(header(e, "Unique-ID").as_deref(), Some(uuid), "filtered");
    }
    for expected in [
        "CHANNEL_CREATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_ANSWER",
        "spandsp::txfaxnegociateresult",
        "spandsp::txfaxpageresult",
        "spandsp::txfaxresult",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let result = events
        .iter()
        .find(|e| header(e, "Event-Subclass").as_deref() == Some("spandsp::txfaxresult"))
        .unwrap();
    assert_eq!(header(result, "fax-success").as_deref(), Some("1"));
    assert_eq!(
        header(result, "fax-document-transferred-pages").as_deref(),
        Some("1")
    );
    assert_eq!(
        header(result, "fax-local-station-id").as_deref(),
        Some("GREENSWITCH")
    );
    assert_eq!(
        header(result, "fax-remote-station-id").as_deref(),
        Some("LOOPBACK RX")
    );
    assert_eq!(
        header(result, "Caller-Caller-ID-Name").as_deref(),
        Some("Green Switch")
    );
    let hangup = events
        .iter()
        .rev()
        .find(|e| header(e, "Event-Name").as_deref() == Some("CHANNEL_CALLSTATE"))
        .unwrap();
    assert_eq!(
        header(hangup, "Channel-Call-State").as_deref(),
        Some("HANGUP")
    );
    assert_eq!(
        header(hangup, "Hangup-Cause").as_deref(),
        Some("NORMAL_CLEARING")
    );
    server.shutdown().await;
}
