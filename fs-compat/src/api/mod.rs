//! The API commands of `api` and `bgapi`, and the [`EslBackend`] trait through which they
//! reach the rest of faxserver (so that this crate does not depend on the server's wiring).
//!
//! | command | reply |
//! |---|---|
//! | `status`, `version [short]` | mod_commands' text |
//! | `db …` | [`crate::moddb`] |
//! | `show channels\|calls [count] [as json\|xml\|csv]` | [`show`] |
//! | `uuid_kill <uuid> [cause]`, `hupall [cause]` | `+OK` / `-ERR No such channel!` |
//! | `uuid_exists <uuid>` | `true` / `false` |
//! | `reloadxml` | `+OK [Success]` |
//! | `sofia status [gateway <name>]`, `sofia profile <p> rescan` | [`sofia`] |
//! | `originate {vars}sofia/gateway/<gw>/<n> &txfax(<file>)` | `+OK <uuid>` / `-ERR <CAUSE>` |
//! | `bgapi <command>` | `+OK Job-UUID: <uuid>`, then a `BACKGROUND_JOB` event |
//! | `hostname` | the host name |
//!
//! Anything else: `-ERR <command> Command not found!`.

pub mod originate;
pub mod show;
pub mod sofia;
pub mod status;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use engine::events::{EngineEvent, EventBus};
use store::Store;
use tokio::sync::broadcast;

use crate::esl::channels::{Channels, Origination};
use crate::esl::event::EslEvent;
use crate::esl::render::{hangup_cause, Renderer};
use crate::moddb::ModDb;
pub use originate::{FaxRequest, FaxTarget, OriginateError};

/// A call (or job) a client asked to hang up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HangupTarget {
    /// The uuid as the client gave it (a `Unique-ID`, possibly an `origination_uuid`).
    pub uuid: String,
    /// The engine's call id, when the uuid names a live call.
    pub call_uuid: Option<String>,
    /// The job the call belongs to, when known.
    pub job_uuid: Option<String>,
}

/// What the ESL server needs from the rest of faxserver.
#[async_trait]
pub trait EslBackend: Send + Sync {
    /// Queues an outbound fax for `originate … &txfax(<file>)` and returns its job id
    /// (`request.job_uuid`, unless the job cannot have it); the error is the FreeSWITCH cause
    /// the client sees after `-ERR ` (e.g. `NORMAL_TEMPORARY_FAILURE`). gofaxserver did its
    /// own retries, so one attempt is what it expects; the job's calls must be published on
    /// the event bus with this job id.
    async fn submit_fax(&self, request: FaxRequest) -> Result<String, String>;

    /// Hangs up a call (or cancels the job it names); false when there is no such call.
    async fn hangup(&self, target: &HangupTarget, cause: &str) -> bool;

    /// Hangs up every call; returns how many.
    async fn hangup_all(&self, cause: &str) -> usize;

    /// Reloads what is read from the store at start (gateways, numbers, peers).
    async fn reload(&self) -> Result<(), String>;

    /// A gateway's registration state as mod_sofia names it (`REGED`, `TRYING`, `FAILED`,
    /// `NOREG`, …); `None` when unknown.
    async fn gateway_state(&self, _name: &str) -> Option<String> {
        None
    }

    /// The SIP URL shown for the profile in `sofia status`.
    fn sip_url(&self) -> String {
        "sip:mod_sofia@127.0.0.1:5060".to_owned()
    }
}

/// Everything API commands run against.
pub struct ApiContext {
    /// The rest of the server.
    pub backend: Arc<dyn EslBackend>,
    /// The store (gateways, key-value).
    pub store: Arc<dyn Store>,
    /// The mod_db emulation.
    pub db: ModDb,
    /// Live channels.
    pub channels: Arc<Channels>,
    /// The engine's event bus (originate waits on it).
    pub bus: EventBus,
    /// Where `BACKGROUND_JOB` events go.
    pub hub: broadcast::Sender<Arc<EslEvent>>,
    /// Builds events.
    pub renderer: Arc<Renderer>,
    /// When the server started.
    pub started: Instant,
    /// The SIP profile's name in `sofia status`.
    pub profile: String,
    /// `session(s) max` in `status`.
    pub max_sessions: usize,
    /// How long `originate` waits, beyond the ring time, for the queue to place the call.
    pub originate_grace: Duration,
}

impl std::fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiContext")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// FreeSWITCH's reply to an API command it does not have.
pub fn not_found(command: &str) -> String {
    format!("-ERR {command} Command not found!\n")
}

impl ApiContext {
    /// Runs one API command and returns its reply body.
    pub fn execute<'a>(
        self: &'a Arc<Self>,
        command: &'a str,
        arg: Option<&'a str>,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        // Boxed: `bgapi` runs commands from inside a command.
        Box::pin(async move {
            let name = command.to_ascii_lowercase();
            match name.as_str() {
                "status" => self.status(),
                "version" => status::version(arg),
                "hostname" => self.renderer.identity().hostname.clone(),
                "db" => self.db.execute(arg.unwrap_or_default(), Utc::now()).await,
                "show" => show::show(
                    arg,
                    &self.channels.list(),
                    &self.renderer.identity().hostname,
                ),
                "uuid_kill" => self.uuid_kill(arg).await,
                "uuid_exists" => {
                    let found = arg.is_some_and(|u| self.channels.find(u.trim()).is_some());
                    if found { "true" } else { "false" }.to_owned()
                }
                "hupall" => self.hupall(arg).await,
                "reloadxml" => match self.backend.reload().await {
                    Ok(()) => "+OK [Success]\n".to_owned(),
                    Err(e) => format!("-ERR [{e}]\n"),
                },
                "sofia" => self.sofia(arg).await,
                "originate" => self.originate(arg.unwrap_or_default()).await,
                "bgapi" => match arg.filter(|a| !a.is_empty()) {
                    Some(arg) => {
                        let job_uuid = uuid::Uuid::new_v4().to_string();
                        let (cmd, rest) = match arg.split_once(' ') {
                            Some((c, r)) => (c.to_owned(), Some(r.to_owned())),
                            None => (arg.to_owned(), None),
                        };
                        Arc::clone(self).run_background(job_uuid.clone(), cmd, rest);
                        format!("+OK Job-UUID: {job_uuid}\n")
                    }
                    None => "-ERR Invalid syntax\n".to_owned(),
                },
                _ => not_found(command),
            }
        })
    }

    /// Runs a command in the background and publishes its `BACKGROUND_JOB` event.
    pub fn run_background(self: Arc<Self>, job_uuid: String, command: String, arg: Option<String>) {
        tokio::spawn(async move {
            let reply = self.execute(&command, arg.as_deref()).await;
            let event = self.renderer.background_job(
                &job_uuid,
                &command,
                arg.as_deref(),
                &reply,
                Utc::now(),
            );
            // Nobody listening is fine: the job ran.
            let _ = self.hub.send(Arc::new(event));
        });
    }

    /// A `HEARTBEAT` event, with the headers `switch_core.c` gives it.
    pub fn heartbeat(&self, interval: Duration) -> EslEvent {
        let (live, since_startup, peak) = self.channels.counts();
        let uptime = self.started.elapsed();
        let mut e = self
            .renderer
            .base("HEARTBEAT", None, Utc::now(), "send_heartbeat");
        let up = status::status(&status::Counts {
            uptime,
            live,
            since_startup,
            peak,
            max: self.max_sessions,
        });
        let up_time = up
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("UP "))
            .unwrap_or_default()
            .to_owned();
        e.push("Event-Info", "System Ready")
            .push("Up-Time", up_time)
            .push("FreeSWITCH-Version", status::EMULATED_VERSION)
            .push("Uptime-msec", uptime.as_millis().to_string())
            .push("Heartbeat-Interval", interval.as_secs().to_string())
            .push("Session-Count", live.to_string())
            .push("Max-Sessions", self.max_sessions.to_string())
            .push("Session-Per-Sec", "30")
            .push("Session-Per-Sec-Last", "0")
            .push("Session-Per-Sec-Max", "0")
            .push("Session-Per-Sec-FiveMin", "0")
            .push("Session-Since-Startup", since_startup.to_string())
            .push("Session-Peak-Max", peak.to_string())
            .push("Session-Peak-FiveMin", peak.to_string())
            .push("Idle-CPU", "100.000000");
        e
    }

    fn status(&self) -> String {
        let (live, since_startup, peak) = self.channels.counts();
        status::status(&status::Counts {
            uptime: self.started.elapsed(),
            live,
            since_startup,
            peak,
            max: self.max_sessions,
        })
    }

    async fn uuid_kill(&self, arg: Option<&str>) -> String {
        let mut words = arg.unwrap_or_default().split_whitespace();
        let Some(uuid) = words.next() else {
            return "-USAGE: <uuid> [cause]\n".to_owned();
        };
        let cause = words
            .next()
            .map_or_else(|| "NORMAL_CLEARING".to_owned(), str::to_ascii_uppercase);
        let channel = self.channels.find(uuid);
        let target = HangupTarget {
            uuid: uuid.to_owned(),
            call_uuid: channel.as_ref().map(|c| c.call.call_uuid.clone()),
            job_uuid: channel.and_then(|c| c.call.job_uuid),
        };
        if self.backend.hangup(&target, &cause).await {
            "+OK\n".to_owned()
        } else {
            "-ERR No such channel!\n".to_owned()
        }
    }

    async fn hupall(&self, arg: Option<&str>) -> String {
        let cause = arg
            .and_then(|a| a.split_whitespace().next())
            .map_or_else(|| "MANAGER_REQUEST".to_owned(), str::to_ascii_uppercase);
        self.backend.hangup_all(&cause).await;
        format!("+OK hangup all channels with cause {cause}\n")
    }

    async fn sofia(&self, arg: Option<&str>) -> String {
        let argv: Vec<&str> = arg.unwrap_or_default().split_whitespace().collect();
        let profile = sofia::Profile {
            name: self.profile.clone(),
            url: self.backend.sip_url(),
            in_use: self.channels.counts().0,
        };
        let is = |i: usize, w: &str| argv.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w));
        if is(0, "status") && argv.len() == 1 {
            let gateways = match self.store.list_gateways().await {
                Ok(g) => g,
                Err(e) => return format!("-ERR {e}\n"),
            };
            let mut rows = Vec::new();
            for gw in gateways {
                let state = self.gateway_state(&gw).await;
                rows.push((gw, state));
            }
            return sofia::status(&profile, &rows);
        }
        if is(0, "status") && is(1, "gateway") && argv.len() == 3 {
            let name = argv[2].rsplit("::").next().unwrap_or(argv[2]);
            return match self.store.get_gateway_by_name(name).await {
                Ok(Some(gw)) => {
                    let state = self.gateway_state(&gw).await;
                    let (calls_in, calls_out) = self.calls_via(&gw.name);
                    sofia::gateway(&profile, &gw, &state, calls_in, calls_out)
                }
                Ok(None) => "Invalid Gateway!\n".to_owned(),
                Err(e) => format!("-ERR {e}\n"),
            };
        }
        if is(0, "profile") && argv.len() >= 3 && (is(2, "rescan") || is(2, "restart")) {
            return match self.backend.reload().await {
                Ok(()) => "+OK scan complete\n".to_owned(),
                Err(e) => format!("-ERR {e}\n"),
            };
        }
        "-USAGE: sofia status|status gateway <name>|profile <name> rescan\n".to_owned()
    }

    async fn gateway_state(&self, gw: &store::Gateway) -> String {
        match self.backend.gateway_state(&gw.name).await {
            Some(state) => state,
            None if gw.register => "TRYING".to_owned(),
            None => "NOREG".to_owned(),
        }
    }

    fn calls_via(&self, gateway: &str) -> (usize, usize) {
        let mut counts = (0, 0);
        for ch in self.channels.list() {
            if ch.call.gateway.as_deref() == Some(gateway) {
                match ch.call.direction {
                    engine::call::FaxDirection::Receive => counts.0 += 1,
                    engine::call::FaxDirection::Send => counts.1 += 1,
                }
            }
        }
        counts
    }

    /// `originate`: queue the fax, then answer as FreeSWITCH's synchronous originate does —
    /// `+OK <uuid>` once the call is answered, `-ERR <CAUSE>` when it ends unanswered. If
    /// nothing is heard within the ring time plus the grace period, the job is still queued
    /// and the answer is `+OK`: its events will follow.
    async fn originate(&self, arg: &str) -> String {
        let mut request = match originate::parse(arg) {
            Ok(r) => r,
            Err(OriginateError::Usage) => {
                return format!("-USAGE: {}\n", originate::ORIGINATE_SYNTAX);
            }
            Err(OriginateError::ChannelNotImplemented) => {
                return "-ERR CHAN_NOT_IMPLEMENTED\n".to_owned();
            }
            Err(OriginateError::ApplicationNotSupported(_)) => {
                return "-ERR SERVICE_NOT_IMPLEMENTED\n".to_owned();
            }
            Err(OriginateError::MissingDocument) => {
                return "-ERR INVALID_FILE\n".to_owned();
            }
        };
        for target in &request.targets {
            match self.store.get_gateway_by_name(&target.gateway).await {
                Ok(Some(_)) => {}
                Ok(None) => return "-ERR INVALID_GATEWAY\n".to_owned(),
                Err(e) => {
                    tracing::warn!(error = %e, "originate: gateway lookup failed");
                    return "-ERR NORMAL_TEMPORARY_FAILURE\n".to_owned();
                }
            }
        }
        request.job_uuid = request
            .origination_uuid
            .as_deref()
            .and_then(|u| uuid::Uuid::parse_str(u).ok())
            .unwrap_or_else(uuid::Uuid::new_v4)
            .to_string();
        let ring = Duration::from_secs(request.timeout_secs.unwrap_or(60).into());
        let uuid = request
            .origination_uuid
            .clone()
            .unwrap_or_else(|| request.job_uuid.clone());
        let origination = Origination {
            uuid: uuid.clone(),
            variables: request.variables.clone(),
        };
        let proposed = request.job_uuid.clone();
        // Noted before submitting: the job's first events may be published before we return.
        self.channels
            .note_origination(&proposed, origination.clone());
        let mut events = self.bus.subscribe();
        let job_uuid = match self.backend.submit_fax(request).await {
            Ok(job) => job,
            Err(cause) => {
                self.channels.forget_origination(&proposed);
                return format!("-ERR {cause}\n");
            }
        };
        if job_uuid != proposed {
            self.channels.forget_origination(&proposed);
            self.channels.note_origination(&job_uuid, origination);
        }
        let ok = format!("+OK {uuid}\n");
        let wait = async {
            loop {
                let stamped = match events.recv().await {
                    Ok(s) => s,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return ok.clone(),
                };
                let ours = |j: &Option<String>| j.as_deref() == Some(job_uuid.as_str());
                match &stamped.event {
                    EngineEvent::CallAnswered { call } if ours(&call.job_uuid) => {
                        return ok.clone()
                    }
                    EngineEvent::CallEnded { call, report } if ours(&call.job_uuid) => {
                        return if report.answered {
                            ok.clone()
                        } else {
                            format!("-ERR {}\n", hangup_cause(report))
                        };
                    }
                    EngineEvent::JobDelivered { job_uuid: j, .. } if *j == job_uuid => {
                        return ok.clone()
                    }
                    EngineEvent::JobFailed {
                        job_uuid: j,
                        reason,
                        ..
                    } if *j == job_uuid => {
                        return format!("-ERR {}\n", reason.replace('\n', " "));
                    }
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(ring + self.originate_grace, wait).await {
            Ok(reply) => reply,
            Err(_) => ok,
        }
    }
}
