//! Wiring: store, admin key, SIP agent, queue workers, incoming calls, the API, the event
//! bus with its listeners (webhooks, e-mail, Loki, the Event Socket), and the graceful stop
//! on SIGTERM.
//!
//! Stop sequence: the SIP agent answers new INVITEs with 503 + Retry-After, the queue stops
//! claiming, running calls get `queue.shutdown_grace` to finish; then they are cancelled
//! (hung up), their attempts recorded as interrupted and their jobs handed back so that the
//! next start (or another node) resumes them; then the Event Socket (its clients saw the
//! hang-ups) and the notifications (deliveries still due stay in the log); the API stops
//! last; exit status 0.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::AppState;
use axum::Extension;
use engine::call::{
    cpu_idle::spawn_host_cpu_sampler, start_media_scheduler, AgentConfig, FaxOptions,
    MediaSettings, OverloadGuard, PeerAcl, SipAgent,
};
use engine::events::{EngineEvent, EventBus, Stamped};
use engine::queue::{
    Caps, Clock, Events, Inbound, InboundSettings, Limits, LivePeers, Queue, QueueParts,
    QueueSettings, Reload, ServerControl, Shutdown, SipDialer, TrackerHandle,
};
use media::ports::PortPool;
use store::{NumberRules, PgStore, SqliteStore, Store};
use tokio::signal::unix::{signal, SignalKind};

use super::config::{Config, Database};
use super::esl::QueueBackend;
use super::outputs;
use super::reload::GatewayReloader;
use super::secrets::{self, KeySource};

/// PostgreSQL connections per node.
const PG_CONNECTIONS: u32 = 16;

/// Runs the server until SIGTERM or SIGINT, then stops gracefully.
pub async fn serve(cfg: Config) -> anyhow::Result<ExitCode> {
    prepare_dir(&cfg.data_dir)?;
    std::fs::create_dir_all(&cfg.spool_dir)
        .with_context(|| format!("creating {}", cfg.spool_dir.display()))?;
    let store = open_store(&cfg.database).await?;
    tracing::info!(database = ?cfg.database, data_dir = %cfg.data_dir.display(), "store open");
    let (admin_key, source) = secrets::admin_key(cfg.admin_api_key.as_ref(), &cfg.data_dir)?;
    if let KeySource::Generated(path) = &source {
        // Printed once, on the start that made it; never logged.
        println!(
            "faxserver: generated an admin API key, stored in {} (shown only this once):\n{}",
            path.display(),
            admin_key.0
        );
    }
    let node = secrets::node_id(&cfg.data_dir)?;
    let shutdown = Shutdown::new();
    let tracker = TrackerHandle::default();
    let clock = Clock::system();
    let limits = Limits::new(caps(&cfg));
    // One bus for the server: the queue and incoming calls publish, the rest listen.
    let bus = EventBus::new();
    let events = Events::on(bus.clone());

    let advertised = cfg
        .sip_advertised
        .or_else(|| default_advertised(cfg.sip_listen));
    let mut agent_cfg = AgentConfig::new(cfg.sip_listen);
    agent_cfg.advertised = advertised;
    // Interim: the agent's ACL is fixed when it starts, and /admin/reload must change who
    // may call, so the agent admits every source and the incoming side checks the live list
    // (same 403, same fail2ban line) until the agent can swap its ACL.
    agent_cfg.acl = PeerAcl::any();
    // The guard protects calls with real-time peers; a media clock sped up for tests has
    // none, and a loaded test machine would only see its calls refused.
    let overload = match (cfg.overload, cfg.min_idle_cpu) {
        (None, 0) => None,
        (late, min_idle_percent) => Some(OverloadGuard {
            max_lateness: late.unwrap_or(Duration::MAX),
            min_idle_percent,
            ..OverloadGuard::default()
        }),
    }
    .filter(|_| cfg.media_speed == 1);
    if overload.is_some_and(|g| g.min_idle_percent > 0) {
        spawn_host_cpu_sampler(Duration::from_secs(1));
    }
    agent_cfg.overload = overload;
    // Ticking from the start, the media clock's lateness also shows a starved process
    // before its first call.
    start_media_scheduler(cfg.media_speed);
    let (agent, incoming) = SipAgent::start(agent_cfg).await.context("starting SIP")?;
    let (lo, hi) = cfg.media_ports;
    let pool = PortPool::new(lo..=hi).map_err(|e| anyhow::anyhow!("media ports: {e}"))?;
    rotate(&pool);
    let mut media = MediaSettings::new(Arc::new(pool), cfg.sip_listen.ip());
    media.advertised_ip = advertised;
    media.speed = cfg.media_speed;
    media.playout.depth = cfg.playout_depth;

    let peers = LivePeers::default();
    let reloader = Arc::new(GatewayReloader {
        store: store.clone(),
        peers: peers.clone(),
        agent: agent.clone(),
    });
    reloader
        .reload()
        .await
        .map_err(|e| anyhow::anyhow!("loading the gateways: {e}"))?;

    let fax = FaxOptions {
        ident: cfg.ident.clone(),
        answer_delay: cfg.answer_after,
        // No retention, no bundles: nothing is captured, so nothing is stored.
        debug_capture: cfg.debug_retention_days > 0,
        ..FaxOptions::default()
    };
    let mut settings = QueueSettings {
        retry_attempts: cfg.retry_attempts,
        failed_response: cfg.failed_response.clone(),
        resend_unconfirmed_pages: cfg.resend_unconfirmed_pages,
        lease: cfg.lease,
        renew_every: cfg.lease / 3,
        poll_interval: cfg.poll_interval,
        spool_dir: cfg.spool_dir.clone(),
        policy: cfg.policy.clone(),
        fax: fax.clone(),
        overload,
        ..QueueSettings::default()
    };
    settings.backoff.base = cfg.retry_delay;
    settings.backoff.max = cfg.retry_max_delay;
    let from_host = advertised.or(Some(cfg.sip_listen.ip()).filter(|ip| !ip.is_unspecified()));
    let queue = Queue::new(QueueParts {
        store: store.clone(),
        dialer: Arc::new(SipDialer::new(agent.clone(), media.clone(), from_host)),
        settings,
        limits: limits.clone(),
        tracker: tracker.clone(),
        clock: clock.clone(),
        worker: node.clone(),
        shutdown: shutdown.clone(),
        events: events.clone(),
    });
    queue
        .release_own_leases()
        .await
        .context("handing back jobs held before the restart")?;
    let inbound = Inbound {
        store: store.clone(),
        media,
        settings: InboundSettings {
            called_from: cfg.called_from,
            rules: NumberRules::nanp(),
            fax,
            policy: cfg.policy.clone(),
            spool_dir: cfg.spool_dir.clone(),
        },
        limits,
        tracker: tracker.clone(),
        peers,
        clock: clock.clone(),
        events: events.clone(),
        bridging: Some(engine::queue::Bridging::new(agent.clone(), from_host)),
    };

    // Listening before anything can publish, so that no event is missed.
    let notifications = outputs::start(&cfg.outputs, store.clone(), &bus)?;
    let gateway_up: notify::metrics::GatewayUp = {
        let agent = agent.clone();
        Arc::new(move |name: &str| agent.gateway_up(name))
    };
    let metrics = notify::metrics::Metrics::new(store.clone(), notify::Clock::system(), gateway_up);
    // The sender must live until the stop: dropping it stops the listener.
    let (metrics_stop, metrics_stopped) = tokio::sync::watch::channel(false);
    let metrics_task = metrics.spawn(&bus, metrics_stopped);
    let esl = fs_compat::spawn(
        cfg.outputs.esl.clone(),
        fs_compat::EslDeps {
            store: store.clone(),
            bus: bus.clone(),
            backend: Arc::new(QueueBackend {
                store: store.clone(),
                events: events.clone(),
                queue: queue.clone(),
                reloader: reloader.clone(),
                agent: agent.clone(),
            }),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting the Event Socket: {e}"))?;

    let control = ServerControl {
        tracker,
        reload: Some(Reload::new(move || {
            let r = reloader.clone();
            async move { r.reload().await }
        })),
        clock,
    };
    let app = api::router(AppState::new(store.clone(), admin_key.0.clone()))
        .merge(notify::metrics::router(metrics.clone()))
        .merge(notify::metrics::figures_router(metrics, admin_key.0))
        .layer(Extension(control))
        .layer(Extension(bus.clone()));
    let listener = tokio::net::TcpListener::bind(cfg.api_listen)
        .await
        .with_context(|| format!("binding the API to {}", cfg.api_listen))?;
    let api_addr = listener.local_addr()?;
    // Lines scripts and tests wait for (the Event Socket's first: they stop at the API's).
    if let Some(e) = &esl {
        println!("esl listening on {}", e.local_addr());
    }
    println!("api listening on {api_addr}");
    println!("sip listening on {}", agent.local_addr());
    let _ = std::io::stdout().flush();
    tracing::info!(node = %node, api = %api_addr, sip = %agent.local_addr(), "faxserver serving");

    let grace = cfg.shutdown_grace;
    // A job the API commits is claimed at once rather than at the next poll.
    let waker = tokio::spawn(wake_on_new_jobs(bus.subscribe(), queue.clone()));
    let workers = tokio::spawn(queue.run(grace));
    let calls = tokio::spawn(inbound.run(incoming, shutdown.clone(), grace));
    let purger = super::retention::spawn(
        store.clone(),
        cfg.debug_retention_days,
        Clock::system(),
        &shutdown,
    );
    let (api_stop, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = api_stopped.await;
        })
        .await
    });

    wait_for_signal().await?;
    tracing::info!(
        grace_s = grace.as_secs(),
        "stopping: new calls get 503, no new jobs are claimed"
    );
    agent.shut_down();
    shutdown.stop();
    let _ = workers.await;
    waker.abort();
    let _ = calls.await;
    if let Some(p) = purger {
        let _ = p.await;
    }
    if let Some(e) = esl {
        e.shutdown().await;
    }
    notifications.stop().await;
    let _ = metrics_stop.send(true);
    let _ = metrics_task.await;
    let _ = api_stop.send(());
    match http.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the API stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "the API task failed"),
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Starts the pool at a random pair. After a crash, far ends may still stream to the ports
/// the last run's calls had, and a new call on one of them would latch onto that stray
/// stream; the pool hands ports out in order, so a restart would reuse exactly those.
fn rotate(pool: &PortPool) {
    use rand_core::{OsRng, RngCore};
    let capacity = pool.capacity().max(1);
    let skip = usize::try_from(OsRng.next_u32()).unwrap_or(0) % capacity;
    // Leases given back go to the back of the queue: taking `skip` and dropping them all
    // turns the queue by `skip`.
    let taken: Vec<_> = (0..skip).map_while(|_| pool.allocate().ok()).collect();
    drop(taken);
}

fn caps(cfg: &Config) -> Caps {
    Caps {
        global: cfg.max_channels,
        per_tenant: cfg.max_channels_per_tenant,
        per_gateway: cfg.max_channels_per_gateway,
        gateway_cps: cfg.gateway_calls_per_second,
        ..Caps::default()
    }
}

/// Creates the data directory, private to this user when we create it.
pub(crate) fn prepare_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("securing {}", dir.display()))?;
    }
    Ok(())
}

pub(crate) async fn open_store(db: &Database) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match db {
        Database::SqlitePath(p) => Arc::new(
            SqliteStore::open(p)
                .await
                .with_context(|| format!("opening SQLite at {}", p.display()))?,
        ),
        Database::Url(u) if u.starts_with("sqlite:") => Arc::new(
            SqliteStore::connect(u)
                .await
                .context("opening the SQLite database")?,
        ),
        // The URL may hold a password: the error says which database, not the URL.
        Database::Url(u) => Arc::new(
            PgStore::connect(u, PG_CONNECTIONS)
                .await
                .context("connecting to PostgreSQL")?,
        ),
    })
}

/// Without a configured address, a wildcard listener advertises the address of the default
/// route: 0.0.0.0 in Via, Contact or SDP would reach nobody.
fn default_advertised(listen: SocketAddr) -> Option<IpAddr> {
    if !listen.ip().is_unspecified() {
        return None;
    }
    let probe: SocketAddr = if listen.is_ipv4() {
        SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 9))
    } else {
        "[2001:db8::1]:9".parse().ok()?
    };
    let any = SocketAddr::new(listen.ip(), 0);
    // connect() on UDP sends nothing: it only asks the kernel for a route.
    let ip = std::net::UdpSocket::bind(any)
        .and_then(|s| s.connect(probe).and_then(|()| s.local_addr()))
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified());
    match ip {
        Some(ip) => tracing::info!(%ip, "advertising the default route's address in SIP and SDP"),
        None => tracing::warn!("no default route: set FAXSERVER_SIP_ADVERTISED_ADDRESS"),
    }
    ip
}

/// Wakes the queue's workers for every job published as queued (and after missed events,
/// which may have been such jobs).
async fn wake_on_new_jobs(mut events: tokio::sync::broadcast::Receiver<Stamped>, queue: Queue) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(s) if matches!(s.event, EngineEvent::JobQueued { .. }) => queue.wake(),
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => queue.wake(),
            Err(RecvError::Closed) => break,
        }
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
    }
    Ok(())
}
