//! Incoming fax calls: admit the source, find the called number's tenant, receive the fax,
//! and commit the received document with its job before anything else happens to it.
//!
//! - Sources: the gateways' allowed source addresses ([`Peers`], swapped on
//!   `/admin/reload`). Refused sources get 403 and the same log line as the SIP agent's own
//!   check, so one fail2ban filter matches both.
//! - Unknown called numbers get 404 (gofaxserver received them and sent them back upstream,
//!   behaviour §14.12).
//! - A fax with at least one page becomes an `inbound` job in the tenant's listing, with its
//!   document, a reception attempt (no endpoint: it is not a delivery), the page results and
//!   a `fax.received` event. The job then goes through the queue like any other: delivered to
//!   the number's gateway endpoints, or kept for the API when there are none. A reception
//!   with no page leaves a `fax.reception_failed` event (gofaxserver kept a `reception` row).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use store::{
    AttemptOutcome, Direction as JobDirection, Gateway, GatewayId, JobId, NewAttempt, NewDocument,
    NewEvent, NewJob, NewPageResult, NumberRules, Store, TenantNumber,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::calls::{hangup_switch, Events};
use super::control::{Clock, Shutdown};
use super::limits::Limits;
use super::publish::CallEvents;
use super::tracker::{Begin, Phase, TrackerHandle};
use super::worker::drain;
use crate::call::{
    called_number, caller, run_incoming, CallReport, CalledFrom, Cidr, FaxDirection, FaxJob,
    FaxOptions, IncomingCall, MediaSettings, PeerAcl, Progress,
};
use crate::events::{CallInfo, EngineEvent};
use crate::policy::{self, Identity, MediaUsed, Overrides, Parties};

/// Event kind of a stored incoming fax.
pub const FAX_RECEIVED: &str = "fax.received";
/// Event kind of an incoming call that delivered no page.
pub const RECEPTION_FAILED: &str = "fax.reception_failed";

/// The SIP peers allowed to call us, built from the gateways.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    acl: PeerAcl,
    sources: Vec<(Cidr, GatewayId, bool)>,
    names: Vec<(GatewayId, String)>,
}

impl Peers {
    /// The peers of these gateways; entries that are not addresses or CIDR blocks are
    /// skipped and returned as warnings.
    pub fn from_gateways(gateways: &[Gateway]) -> (Peers, Vec<String>) {
        let mut warnings = Vec::new();
        let mut sources = Vec::new();
        for g in gateways {
            for s in &g.allowed_sources {
                match s.parse::<Cidr>() {
                    Ok(c) => sources.push((c, g.id, g.t38_allowed)),
                    Err(e) => warnings.push(format!("gateway {}: {e}", g.name)),
                }
            }
        }
        let acl = PeerAcl::only(sources.iter().map(|(c, _, _)| *c).collect());
        let names = gateways.iter().map(|g| (g.id, g.name.clone())).collect();
        (
            Peers {
                acl,
                sources,
                names,
            },
            warnings,
        )
    }

    /// True when `ip` may call us.
    pub fn admits(&self, ip: IpAddr) -> bool {
        self.acl.admits(ip)
    }

    /// The first gateway `ip` belongs to, and whether it may use T.38.
    pub fn gateway_of(&self, ip: IpAddr) -> Option<(GatewayId, bool)> {
        self.sources
            .iter()
            .find(|(c, _, _)| c.contains(ip))
            .map(|(_, g, t38)| (*g, *t38))
    }

    /// The name of a gateway these peers were built from.
    pub fn name_of(&self, id: GatewayId) -> Option<&str> {
        self.names
            .iter()
            .find(|(g, _)| *g == id)
            .map(|(_, n)| n.as_str())
    }

    /// True when a gateway of this name was loaded.
    pub fn has_gateway(&self, name: &str) -> bool {
        self.names.iter().any(|(_, n)| n == name)
    }

    /// The ACL.
    pub fn acl(&self) -> &PeerAcl {
        &self.acl
    }

    /// How many source blocks are allowed.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// True when nobody may call.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// The live peer list, replaced as a whole on reload.
#[derive(Debug, Clone, Default)]
pub struct LivePeers(Arc<RwLock<Arc<Peers>>>);

impl LivePeers {
    /// The current list.
    pub fn get(&self) -> Arc<Peers> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the list.
    pub fn set(&self, peers: Peers) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(peers);
    }
}

/// How incoming calls are answered.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    /// Where the called number is read (gofaxserver's `recipient_from_diversion_header`).
    pub called_from: CalledFrom,
    /// How numbers become E.164.
    pub rules: NumberRules,
    /// Base fax options (CSI, answer delay, timers); the policy sets T.38 and ECM.
    pub fax: FaxOptions,
    /// The T.38 policy's settings.
    pub policy: policy::Settings,
    /// Where faxes are received before they are stored.
    pub spool_dir: PathBuf,
}

/// Answers incoming calls.
#[derive(Clone)]
pub struct Inbound {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Media of the calls.
    pub media: MediaSettings,
    /// Settings.
    pub settings: InboundSettings,
    /// Caps shared with the queue.
    pub limits: Limits,
    /// The tracker.
    pub tracker: TrackerHandle,
    /// Who may call.
    pub peers: LivePeers,
    /// The clock.
    pub clock: Clock,
    /// Where calls are published, and the live call list.
    pub events: Events,
    /// Live bridging (issue #6); `None` receives every call.
    pub bridging: Option<super::bridging_run::Bridging>,
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbound")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Inbound {
    /// Takes calls until the shutdown stops it; running calls then get `grace` to end
    /// before they are cancelled (what they received by then is still stored).
    pub async fn run(
        self,
        mut incoming: mpsc::Receiver<IncomingCall>,
        shutdown: Shutdown,
        grace: Duration,
    ) {
        let mut stop = shutdown.stopping();
        let mut tasks = JoinSet::new();
        while !*stop.borrow() {
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                call = incoming.recv() => match call {
                    Some(call) => {
                        let me = self.clone();
                        let cancel = shutdown.cancelled();
                        // Every line logged for this call carries its Call-ID; the job id
                        // is recorded once the reception has a job row.
                        let span = tracing::info_span!(
                            "call",
                            call_id = %call.handle.call_id(),
                            job_id = tracing::field::Empty
                        );
                        tasks.spawn(async move { me.handle(call, cancel).await }.instrument(span));
                    }
                    None => break,
                },
                _ = stop.changed() => {}
            }
        }
        drain(&mut tasks, grace, &shutdown).await;
    }

    /// The caller's number as presented (From; never a trusted PAI here), in E.164 when
    /// the number rules can make it so, else as sent.
    pub(super) fn presented_caller(&self, request: &sip::msg::Request) -> String {
        caller(request, false)
            .presented_number()
            .map(|n| {
                self.settings
                    .rules
                    .normalize(n)
                    .map_or_else(|_| n.to_owned(), |e| e.to_string())
            })
            .unwrap_or_default()
    }

    /// Handles one incoming call to its end; the job it became, if any.
    pub async fn handle(
        &self,
        call: IncomingCall,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> Option<JobId> {
        let peers = self.peers.get();
        if !peers.admits(call.source) {
            match call.proxy {
                None => tracing::warn!(
                    target: "faxserver::security",
                    "SIP INVITE from unknown source {} rejected with 403",
                    call.source
                ),
                Some(p) => tracing::warn!(
                    target: "faxserver::security",
                    "SIP INVITE from unknown source {} via trusted proxy {p}: 403",
                    call.source
                ),
            }
            call.handle.reject(403);
            return None;
        }
        let gateway = peers.gateway_of(call.source);
        // Calls the bridge decision routes live are carried and recorded there.
        let call = match self.divert(call, gateway.map(|g| g.0)).await {
            Ok(call) => call,
            Err(bridged) => return bridged,
        };
        let number = match self.called(&call).await {
            Ok(Some(n)) => n,
            Ok(None) => {
                call.handle.reject(404);
                return None;
            }
            // The store is down: another node (or a later retry) may do better.
            Err(()) => {
                call.handle.reject(503);
                return None;
            }
        };
        let caller = self.presented_caller(&call.request);
        let Some(slot) = self.limits.try_global_slot() else {
            tracing::warn!("incoming call refused with 503: every channel is in use");
            call.handle.reject(503);
            return None;
        };
        let Ok(_channel) = self.limits.channel(slot, number.tenant_id, None) else {
            tracing::warn!(tenant = %number.tenant_id, "incoming call refused with 503: the tenant's channels are in use");
            call.handle.reject(503);
            return None;
        };
        let started = self.clock.now();
        let key = format!("call-{}", uuid::Uuid::new_v4());
        self.tracker.update(|t| {
            t.begin(
                &key,
                Begin {
                    direction: JobDirection::Inbound.as_str().into(),
                    caller: caller.clone(),
                    callee: number.number.clone(),
                    src_tenant_id: 0,
                    dst_tenant_id: number.tenant_id.0,
                    enqueued_at: None,
                    pages_total: 0,
                },
                Phase::Receiving,
                started,
            );
            t.call_id(&key, call.handle.call_id(), started);
        });
        let parties = Parties {
            caller: caller.clone(),
            callee: number.number.clone(),
            direction: FaxDirection::Receive,
        };
        let t38_allowed = gateway.is_none_or(|(_, t38)| t38);
        let mut options = self.options(&parties, t38_allowed).await;
        options.debug_pcap = super::bundles::pcap_wanted(
            self.store.as_ref(),
            number.tenant_id,
            gateway.map(|g| g.0),
        )
        .await;
        let tiff = self
            .settings
            .spool_dir
            .join(format!("receive-{}.tif", uuid::Uuid::new_v4()));
        if let Err(e) = std::fs::create_dir_all(&self.settings.spool_dir) {
            tracing::error!(error = %e, "cannot create the spool directory; call refused");
            call.handle.reject(503);
            self.tracker.update(|t| t.forget(&key));
            return None;
        }
        let (ptx, mut prx) = mpsc::unbounded_channel();
        let info = CallInfo {
            call_uuid: uuid::Uuid::new_v4().to_string(),
            job_uuid: None,
            tenant_id: Some(number.tenant_id.0),
            sip_call_id: call.handle.call_id().to_owned(),
            direction: FaxDirection::Receive,
            caller: caller.clone(),
            callee: number.number.clone(),
            gateway: gateway.and_then(|(g, _)| peers.name_of(g).map(str::to_owned)),
        };
        // Ended by the shutdown's cancel or by a hang-up from the Event Socket.
        let (hangup, cancel) = hangup_switch(cancel);
        let _live = self.events.calls.register(&info, hangup);
        let mut events = CallEvents::created(&self.events, info);
        let job = FaxJob {
            direction: spandsp::Direction::Receive { tiff: tiff.clone() },
            options,
            cancel: Some(cancel),
        };
        let tracker = self.tracker.clone();
        let clock = self.clock.clone();
        let key2 = key.clone();
        let published = &mut events;
        let pages = async move {
            while let Some(p) = prx.recv().await {
                if let Progress::Page(page) = &p {
                    tracker.update(|t| t.pages(&key2, page.page, clock.now()));
                }
                published.progress(&p, 0);
            }
        };
        let (mut report, ()) = tokio::join!(run_incoming(call, job, &self.media, Some(ptx)), pages);
        events.ended(&mut report);
        let end = self.clock.now();
        self.learn(&parties, t38_allowed, &report, end).await;
        let stored = self
            .store_reception(
                &number,
                &caller,
                gateway.map(|g| g.0),
                &report,
                &tiff,
                started,
                end,
            )
            .await;
        let _ = std::fs::remove_file(&tiff);
        let outcome = report.outcome();
        match stored {
            Ok(Some(job)) => {
                let owner = super::bundles::Owner {
                    tenant: number.tenant_id,
                    job,
                    leg: store::debug::leg::RECEIVE,
                    attempt_id: None,
                };
                let debug = std::mem::take(&mut report.debug);
                if self.settings.fax.debug_capture {
                    super::bundles::save(self.store.as_ref(), owner, &report.call_id, debug, end)
                        .await;
                }
                self.events.publish(EngineEvent::FaxReceived {
                    job_uuid: job.to_string(),
                    tenant_id: number.tenant_id.0,
                    pages: received_pages(&report),
                });
                self.tracker.update(|t| {
                    t.rename(&key, &job.to_string(), end);
                    t.finish(&job.to_string(), report.is_success(), &outcome.reason, end);
                });
                Some(job)
            }
            Ok(None) => {
                self.tracker
                    .update(|t| t.finish(&key, false, &outcome.reason, end));
                None
            }
            Err(e) => {
                tracing::error!(error = %e, call_id = %report.call_id, "received fax could not be stored");
                self.tracker
                    .update(|t| t.finish(&key, false, "not stored", end));
                None
            }
        }
    }

    /// The called number's record, if one of our tenants has it; `Err` when the store
    /// cannot say.
    async fn called(&self, call: &IncomingCall) -> Result<Option<TenantNumber>, ()> {
        let Some(raw) = called_number(&call.request, self.settings.called_from) else {
            tracing::info!("incoming call without a called number: 404");
            return Ok(None);
        };
        let Ok(e164) = self.settings.rules.normalize(&raw.number) else {
            tracing::info!("incoming call for a number that is not a phone number: 404");
            tracing::debug!(number = %raw.number, "refused called number");
            return Ok(None);
        };
        match self.store.find_number(&e164).await {
            Ok(Some(n)) => Ok(Some(n)),
            Ok(None) => {
                tracing::info!("incoming call for a number no tenant has: 404");
                tracing::debug!(number = %e164, "refused called number");
                Ok(None)
            }
            Err(e) => {
                tracing::error!(error = %e, "number look-up failed; call refused with 503");
                Err(())
            }
        }
    }

    async fn options(&self, parties: &Parties, t38_allowed: bool) -> FaxOptions {
        let now = self.clock.now();
        let mut settings = self.settings.policy.clone();
        if !t38_allowed {
            settings.enable_t38 = false;
            settings.request_t38 = false;
        }
        let history = policy::persist::load_history(self.store.as_ref(), parties, now)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "T.38 history unavailable; using the settings alone");
                policy::History::default()
            });
        let identity = Identity {
            ident: self.settings.fax.ident.clone(),
            header: String::new(),
        };
        let plan = policy::decide(
            &settings,
            &history,
            &Overrides::default(),
            &identity,
            0,
            now,
        );
        let mut options = super::job::fax_options(&self.settings.fax, &plan);
        options.header = None;
        options
    }

    async fn learn(
        &self,
        parties: &Parties,
        t38_allowed: bool,
        report: &CallReport,
        now: DateTime<Utc>,
    ) {
        let store = self.store.as_ref();
        let mut settings = self.settings.policy.clone();
        if !t38_allowed {
            settings.enable_t38 = false;
        }
        let result = async {
            let before = policy::persist::load_history(store, parties, now).await?;
            let after = policy::learn(
                &before,
                &report.outcome(),
                MediaUsed::from_report(report),
                &settings,
                now,
            );
            policy::persist::save_history(store, parties, &before, &after).await
        };
        if let Err(e) = result.await {
            tracing::warn!(error = %e, "T.38 policy state not saved");
        }
    }

    /// Commits what arrived: the document, its job, the reception attempt, its pages and an
    /// event; `None` when no page arrived (only the event is written then).
    #[allow(clippy::too_many_arguments)]
    async fn store_reception(
        &self,
        number: &TenantNumber,
        caller: &str,
        gateway: Option<GatewayId>,
        report: &CallReport,
        tiff: &std::path::Path,
        started: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> store::Result<Option<JobId>> {
        let store = self.store.as_ref();
        let outcome = report.outcome();
        let pages = received_pages(report);
        let bytes = if pages > 0 {
            std::fs::read(tiff).ok()
        } else {
            None
        };
        let detail = json!({
            "call_id": report.call_id,
            "caller": caller,
            "callee": number.number,
            "pages": pages,
            "class": outcome.class.as_str(),
            "reason": outcome.reason,
            "t30_code": outcome.t30_code,
            "media": report.media,
            "gateway_id": gateway,
        });
        let Some(bytes) = bytes else {
            store
                .append_event(&NewEvent {
                    at: end,
                    tenant_id: Some(number.tenant_id),
                    job_id: None,
                    kind: RECEPTION_FAILED.into(),
                    detail,
                })
                .await?;
            tracing::info!(call_id = %report.call_id, reason = %outcome.reason, "incoming call delivered no page");
            return Ok(None);
        };
        let doc = store
            .create_document(
                &NewDocument {
                    tenant_id: number.tenant_id,
                    content_type: "image/tiff".into(),
                    pages: i64::from(pages),
                    data: bytes,
                },
                end,
            )
            .await?;
        let job = store
            .create_job(
                &NewJob {
                    tenant_id: number.tenant_id,
                    direction: JobDirection::Inbound,
                    caller: caller.to_owned(),
                    callee: number.number.clone(),
                    document_id: Some(doc),
                    priority: 0,
                    not_before: end,
                },
                end,
            )
            .await?;
        tracing::Span::current().record("job_id", tracing::field::display(job.id));
        let attempt = store
            .start_attempt(&NewAttempt {
                job_id: job.id,
                endpoint_id: None,
                gateway_id: gateway,
                started_at: started,
            })
            .await?;
        for p in &report.pages {
            store
                .add_page_result(&NewPageResult {
                    attempt_id: attempt.id,
                    page: i64::from(p.page),
                    result_code: 0,
                    bad_rows: i64::from(p.bad_rows),
                    detail: format!(
                        "{} bit/s{}, {}, {} rows, {}",
                        p.bit_rate,
                        if p.ecm { " ECM" } else { "" },
                        p.resolution,
                        p.rows,
                        p.media
                    ),
                })
                .await?;
        }
        let code = outcome
            .t30_code
            .map(i64::from)
            .or(report.sip_status.map(i64::from))
            .unwrap_or(-1);
        store
            .finish_attempt(
                attempt.id,
                &AttemptOutcome {
                    ended_at: end,
                    result_code: code,
                    result_text: outcome.reason.clone(),
                    pages: i64::from(pages),
                },
            )
            .await?;
        store
            .append_event(&NewEvent {
                at: end,
                tenant_id: Some(number.tenant_id),
                job_id: Some(job.id),
                kind: FAX_RECEIVED.into(),
                detail,
            })
            .await?;
        tracing::info!(job_id = %job.id, pages, success = report.is_success(), "incoming fax stored");
        Ok(Some(job.id))
    }
}

/// Pages that arrived: T.30's count, or the page events when the call ended without one.
pub fn received_pages(report: &CallReport) -> u32 {
    let counted = report.fax.as_ref().map_or(0, |f| f.pages);
    let seen = report.pages.iter().map(|p| p.page).max().unwrap_or(0);
    counted.max(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Transport;

    fn gw(id: i64, sources: &[&str], t38: bool) -> Gateway {
        Gateway {
            id: GatewayId(id),
            name: format!("gw{id}"),
            uri: "sip:192.0.2.1".into(),
            transport: Transport::Udp,
            username: None,
            password: None,
            register: false,
            allowed_sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            tenant_id: None,
            debug_pcap: false,
            t38_allowed: t38,
        }
    }

    #[test]
    fn peers_come_from_gateway_sources() {
        let (peers, warnings) = Peers::from_gateways(&[
            gw(1, &["192.0.2.0/24", "bogus"], true),
            gw(2, &["198.51.100.7"], false),
        ]);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("gw1") && warnings[0].contains("bogus"),
            "{warnings:?}"
        );
        assert_eq!(peers.len(), 2);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(peers.admits(ip("192.0.2.9")));
        assert!(!peers.admits(ip("192.0.3.9")));
        assert_eq!(
            peers.gateway_of(ip("198.51.100.7")),
            Some((GatewayId(2), false))
        );
        assert_eq!(peers.gateway_of(ip("10.0.0.1")), None);
        let live = LivePeers::default();
        assert!(live.get().is_empty(), "nobody until loaded");
        live.set(peers);
        assert!(live.get().admits(ip("192.0.2.9")));
    }
}
