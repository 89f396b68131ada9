//! Shared by the queue tests: a SQLite store with a tenant, gateways and endpoints, a
//! manual clock, and a scripted dialer that plays canned call outcomes (no network).

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use engine::call::{CallReport, FaxDirection, FaxSummary, PageReport, Progress, T38Mode};
use engine::documents::{read_tiff_pages, write_fax_tiff, Bitmap, FaxPage};
use engine::queue::{
    empty_report, Caps, Clock, DialRequest, Dialer, Limits, Queue, QueueParts, QueueSettings,
    Shutdown, TrackerHandle,
};
use store::{
    Direction, EndpointKind, Job, JobId, NewDocument, NewEndpoint, NewGateway, NewJob, NewNumber,
    NewTenant, NumberRules, PgStore, Scope, SqliteStore, Store, Submission, TenantId, Transport,
};
use tokio::sync::{mpsc::UnboundedSender, Notify};

/// The time every test starts at.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).expect("valid time")
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new() -> Self {
        ManualClock(Arc::new(Mutex::new(t0())))
    }
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += TimeDelta::from_std(by).unwrap();
    }
    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Clock::new(move || me.now())
    }
}

/// What one scripted call does.
#[derive(Debug, Clone)]
pub enum Script {
    /// The INVITE gets this final status (and Retry-After).
    Sip(u16, Option<u32>),
    /// Answered; this many pages confirmed, then T.30 ends with `code` (0 = success).
    Fax { confirmed: u32, code: i32 },
    /// Answered; confirms `confirmed` pages, then hangs until told to cancel.
    HangUntilCancelled { confirmed: u32 },
}

/// A call the dialer was asked to place.
#[derive(Debug, Clone)]
pub struct Dialed {
    pub gateway: String,
    pub caller: String,
    pub callee: String,
    /// Pages in the TIFF it was given.
    pub pages: usize,
    pub t38: T38Mode,
}

/// Plays scripts per gateway name; a gateway without one answers success.
#[derive(Default)]
pub struct ScriptedDialer {
    scripts: Mutex<HashMap<String, VecDeque<Script>>>,
    pub dialed: Mutex<Vec<Dialed>>,
    pub started: Notify,
    /// Gateways reported down, as the OPTIONS prober would.
    pub down: Mutex<Vec<String>>,
}

impl ScriptedDialer {
    pub fn script(&self, gateway: &str, steps: impl IntoIterator<Item = Script>) {
        self.scripts
            .lock()
            .unwrap()
            .entry(gateway.to_owned())
            .or_default()
            .extend(steps);
    }

    pub fn gateways_dialed(&self) -> Vec<String> {
        self.dialed
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.gateway.clone())
            .collect()
    }
}

fn answered(confirmed: u32, total: u32, code: i32) -> CallReport {
    let mut r = empty_report(FaxDirection::Send);
    r.call_id = "call@test".into();
    r.answered = true;
    r.sip_status = Some(200);
    r.fax = Some(FaxSummary {
        code,
        code_text: if code == 0 {
            "OK".into()
        } else {
            "The call dropped prematurely".into()
        },
        pages: confirmed,
        pages_total: total,
        bit_rate: 14400,
        ecm: true,
        resolution: "fine".into(),
        remote_ident: "FAR END".into(),
        bad_rows: 0,
        longest_bad_row_run: 0,
        negotiations: 1,
    });
    r.fax_seen = true;
    r.duration_ms = 1000;
    r
}

fn unanswered(status: u16, retry_after: Option<u32>) -> CallReport {
    let mut r = answered(0, 0, 0);
    r.answered = false;
    r.sip_status = Some(status);
    r.retry_after = retry_after;
    r.fax = None;
    r.fax_seen = false;
    r
}

fn page(n: u32) -> PageReport {
    PageReport {
        page: n,
        bit_rate: 14400,
        ecm: true,
        resolution: "fine".into(),
        width: 1728,
        rows: 2200,
        bad_rows: 0,
        media: "audio/PCMU".into(),
        at_ms: 0,
    }
}

#[async_trait]
impl Dialer for ScriptedDialer {
    fn is_down(&self, gateway: &str) -> bool {
        self.down.lock().unwrap().iter().any(|g| g == gateway)
    }

    async fn dial(&self, req: DialRequest, progress: UnboundedSender<Progress>) -> CallReport {
        // SpanDSP sends from `first_page` on and counts the pages of this call only.
        let skipped = req.first_page.saturating_sub(1) as usize;
        let pages = std::fs::read(&req.tiff)
            .ok()
            .and_then(|b| read_tiff_pages(&b).ok())
            .map_or(0, |p| p.len().saturating_sub(skipped));
        self.dialed.lock().unwrap().push(Dialed {
            gateway: req.gateway.name.clone(),
            caller: req.caller.clone(),
            callee: req.callee.clone(),
            pages,
            t38: req.options.t38,
        });
        self.started.notify_one();
        let step = self
            .scripts
            .lock()
            .unwrap()
            .get_mut(&req.gateway.name)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Script::Fax {
                confirmed: u32::MAX,
                code: 0,
            });
        let total = pages as u32;
        match step {
            Script::Sip(status, ra) => unanswered(status, ra),
            Script::Fax { confirmed, code } => {
                let confirmed = confirmed.min(total);
                for n in 1..=confirmed {
                    let _ = progress.send(Progress::Page(page(n)));
                }
                answered(confirmed, total, code)
            }
            Script::HangUntilCancelled { confirmed } => {
                for n in 1..=confirmed.min(total) {
                    let _ = progress.send(Progress::Page(page(n)));
                }
                let mut cancel = req.cancel.clone();
                let _ = cancel.wait_for(|c| *c).await;
                let mut r = answered(confirmed.min(total), total, 49);
                r.failure = Some("cancelled".into());
                r
            }
        }
    }
}

/// A page with a black band at a place of its own.
pub fn page_image(n: u32) -> FaxPage {
    let mut bitmap = Bitmap::new(1728, 64);
    let stride = bitmap.stride();
    let row = (n as usize * 8) % 64;
    for b in &mut bitmap.data[row * stride..(row + 2) * stride] {
        *b = 0xff;
    }
    FaxPage {
        bitmap,
        x_dpi: 204.0,
        y_dpi: 196.0,
    }
}

/// A PostgreSQL database made for one test with `psql` (no SQL client in engine's
/// dependencies), dropped when the test ends.
pub struct PgDb {
    admin_url: String,
    name: String,
}

impl PgDb {
    fn create(test: &str) -> Option<(PgDb, String)> {
        let Ok(url) = std::env::var("FAXSERVER_TEST_DATABASE_URL") else {
            eprintln!("SKIPPED {test}: FAXSERVER_TEST_DATABASE_URL is not set");
            return None;
        };
        let name = format!("faxq_{}", uuid::Uuid::new_v4().simple());
        psql(&url, &format!("CREATE DATABASE {name}"));
        let (base, _) = url.rsplit_once('/').expect("a database URL");
        let db_url = format!("{base}/{name}");
        Some((
            PgDb {
                admin_url: url,
                name,
            },
            db_url,
        ))
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let status = std::process::Command::new("psql")
        .args([url, "-qtAc", sql])
        .status()
        .expect("run psql");
    assert!(status.success(), "psql {sql:?} failed");
}

/// A store with tenant 1 (sending number +15551230001) and the given global gateways, each
/// `(name, priority)` with a global endpoint.
pub struct World {
    pub _pg: Option<PgDb>,
    pub _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub tenant: TenantId,
    pub clock: ManualClock,
    pub dialer: Arc<ScriptedDialer>,
    pub tracker: TrackerHandle,
    pub shutdown: Shutdown,
    pub spool: std::path::PathBuf,
    /// The bus the queues publish on.
    pub events: engine::queue::Events,
}

pub const CALLER: &str = "+15551230001";
pub const CALLEE: &str = "+442071234567";

impl World {
    pub async fn new(gateways: &[(&str, i64)]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("q.db")).await.unwrap());
        Self::with_store(store, dir, None, gateways).await
    }

    /// The same world on a PostgreSQL database of its own, or `None` (after printing
    /// SKIPPED) when `FAXSERVER_TEST_DATABASE_URL` is not set.
    pub async fn new_pg(test: &str, gateways: &[(&str, i64)]) -> Option<World> {
        let (pg, url) = PgDb::create(test)?;
        let store: Arc<dyn Store> = Arc::new(PgStore::connect(&url, 8).await.unwrap());
        let dir = tempfile::tempdir().unwrap();
        Some(Self::with_store(store, dir, Some(pg), gateways).await)
    }

    async fn with_store(
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
        pg: Option<PgDb>,
        gateways: &[(&str, i64)],
    ) -> World {
        let clock = ManualClock::new();
        let tenant = store
            .create_tenant(
                &NewTenant {
                    name: "acme".into(),
                    notify: String::new(),
                },
                clock.now(),
            )
            .await
            .unwrap();
        store
            .create_number(
                tenant.id,
                &NewNumber {
                    number: NumberRules::nanp().normalize(CALLER).unwrap(),
                    name: "Acme".into(),
                    header: "ACME FAX".into(),
                    notify: String::new(),
                },
            )
            .await
            .unwrap();
        let w = World {
            _pg: pg,
            spool: dir.path().join("spool"),
            _dir: dir,
            store,
            tenant: tenant.id,
            clock,
            dialer: Arc::default(),
            tracker: TrackerHandle::default(),
            shutdown: Shutdown::new(),
            events: engine::queue::Events::on(engine::events::EventBus::new()),
        };
        for (name, priority) in gateways {
            w.gateway(name, None, *priority).await;
        }
        w
    }

    /// A gateway named `name` with an endpoint of the given scope owner and priority.
    pub async fn gateway(&self, name: &str, owner: Option<(Scope, i64)>, priority: i64) {
        self.store
            .create_gateway(&NewGateway {
                name: name.into(),
                uri: "sip:192.0.2.1:5060".into(),
                transport: Transport::Udp,
                username: None,
                password: None,
                register: false,
                allowed_sources: vec!["192.0.2.1".into()],
                tenant_id: None,
                t38_allowed: true,
            })
            .await
            .unwrap();
        let (scope, scope_id) = owner.unwrap_or((Scope::Global, 0));
        let tenant = (scope != Scope::Global).then_some(self.tenant);
        self.store
            .create_endpoint(
                tenant,
                &NewEndpoint {
                    scope,
                    scope_id,
                    endpoint_type: EndpointKind::Gateway,
                    target: name.into(),
                    priority,
                    bridge: false,
                },
            )
            .await
            .unwrap();
    }

    pub fn settings(&self) -> QueueSettings {
        let mut s = QueueSettings {
            retry_attempts: 2,
            spool_dir: self.spool.clone(),
            ..QueueSettings::default()
        };
        s.backoff.jitter = 0.0;
        s.backoff.base = Duration::from_secs(60);
        s
    }

    /// The caps of the tests: the defaults without a call-rate cap, so that tests dial as
    /// often as they like.
    pub fn caps(&self) -> Caps {
        Caps {
            gateway_cps: None,
            ..Caps::default()
        }
    }

    pub fn queue(&self, settings: QueueSettings, limits: Limits) -> Queue {
        self.queue_as("node-a", settings, limits)
    }

    pub fn queue_as(&self, worker: &str, settings: QueueSettings, limits: Limits) -> Queue {
        self.queue_parts(worker, self.dialer.clone(), settings, limits)
    }

    /// A queue with the default settings that dials through `dialer` (a real SIP dialer,
    /// or one that wraps the scripted one) instead of the scripted dialer.
    pub fn queue_dialing(&self, worker: &str, dialer: Arc<dyn Dialer>) -> Queue {
        self.queue_parts(worker, dialer, self.settings(), Limits::new(self.caps()))
    }

    fn queue_parts(
        &self,
        worker: &str,
        dialer: Arc<dyn Dialer>,
        settings: QueueSettings,
        limits: Limits,
    ) -> Queue {
        Queue::new(QueueParts {
            store: self.store.clone(),
            dialer,
            settings,
            limits,
            tracker: self.tracker.clone(),
            clock: self.clock.clock(),
            worker: worker.into(),
            shutdown: self.shutdown.clone(),
            events: self.events.clone(),
        })
    }

    pub fn default_queue(&self) -> Queue {
        let s = self.settings();
        let limits = Limits::new(self.caps());
        self.queue(s, limits)
    }

    /// Submits a job of `pages` pages to `callee`.
    pub async fn submit(&self, callee: &str, pages: u32) -> Job {
        let images: Vec<FaxPage> = (1..=pages).map(page_image).collect();
        let doc = NewDocument {
            tenant_id: self.tenant,
            content_type: "image/tiff".into(),
            pages: i64::from(pages),
            data: write_fax_tiff(&images).unwrap(),
        };
        let job = NewJob {
            tenant_id: self.tenant,
            direction: Direction::Outbound,
            caller: CALLER.into(),
            callee: callee.into(),
            document_id: None,
            priority: 0,
            not_before: self.clock.now(),
        };
        match self
            .store
            .submit_job(&doc, &job, None, self.clock.now())
            .await
            .unwrap()
        {
            Submission::Created(j) => j,
            other => panic!("{other:?}"),
        }
    }

    pub async fn job(&self, id: JobId) -> Job {
        self.store.get_job(self.tenant, id).await.unwrap().unwrap()
    }

    /// Event kinds of a job, oldest first.
    pub async fn events(&self, id: JobId) -> Vec<String> {
        self.store
            .list_events(Some(self.tenant), Some(id), 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// Page numbers recorded per attempt, oldest attempt first.
    pub async fn pages_per_attempt(&self, id: JobId) -> Vec<Vec<i64>> {
        let mut out = Vec::new();
        for a in self.store.list_attempts(self.tenant, id).await.unwrap() {
            let pages = self
                .store
                .list_page_results(self.tenant, a.id)
                .await
                .unwrap();
            out.push(pages.iter().map(|p| p.page).collect());
        }
        out
    }
}
