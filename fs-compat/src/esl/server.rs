//! The tokio shell around [`Session`]: a listener, one task per connection, and one task
//! that turns the engine's events into FreeSWITCH events for every connection.
//!
//! Enabled when [`EslConfig::listen`] is set (`FAXSERVER_ESL_LISTEN`, e.g.
//! `127.0.0.1:8021`), with [`EslConfig::password`] (`FAXSERVER_ESL_PASSWORD`, FreeSWITCH's
//! default `ClueCon` when unset). The password is never logged.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::events::{EventBus, Stamped};
use store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch, Semaphore};
use tokio::task::JoinHandle;

use super::channels::Channels;
use super::codec::{self, Decoder};
use super::event::EslEvent;
use super::render::{Identity, Renderer};
use super::session::{Action, Session};
use crate::api::{ApiContext, EslBackend};
use crate::moddb::ModDb;
use crate::{Error, Result};

/// Events waiting for a slow connection before it starts losing the oldest.
const HUB_CAPACITY: usize = 4096;
/// How long a connection may stay unauthenticated.
const AUTH_TIMEOUT: Duration = Duration::from_secs(60);
/// What FreeSWITCH tells listeners when it stops.
const SHUTDOWN_NOTICE: &str = "The system is being shut down.\n";

/// The Event Socket's configuration.
#[derive(Clone)]
pub struct EslConfig {
    /// Where to listen; `None` turns the Event Socket off.
    pub listen: Option<SocketAddr>,
    /// The password clients give with `auth`.
    pub password: String,
    /// How long a `db insert/fallback/…` entry lasts (the T.38 policy's fallback period);
    /// `None`: forever, as in FreeSWITCH.
    pub fallback_ttl: Option<chrono::Duration>,
    /// `FreeSWITCH-Hostname` of events; the machine's host name when `None`.
    pub hostname: Option<String>,
    /// The SIP profile's name in `sofia status` and channel names.
    pub profile: String,
    /// Connections served at once; more are turned away.
    pub max_connections: usize,
    /// `session(s) max` in `status`.
    pub max_sessions: usize,
    /// How long `originate` waits, beyond the ring time, for the queue to place the call.
    pub originate_grace: Duration,
    /// How often a `HEARTBEAT` event is sent (FreeSWITCH's `event-heartbeat-interval`,
    /// 20 s); `None`: never.
    pub heartbeat: Option<Duration>,
}

impl Default for EslConfig {
    fn default() -> Self {
        EslConfig {
            listen: None,
            password: "ClueCon".to_owned(),
            fallback_ttl: Some(chrono::Duration::days(7)),
            hostname: None,
            profile: "faxserver".to_owned(),
            max_connections: 64,
            max_sessions: 1000,
            originate_grace: Duration::from_secs(120),
            heartbeat: Some(Duration::from_secs(20)),
        }
    }
}

impl std::fmt::Debug for EslConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EslConfig")
            .field("listen", &self.listen)
            .field("password", &"<redacted>")
            .field("fallback_ttl", &self.fallback_ttl)
            .field("hostname", &self.hostname)
            .field("profile", &self.profile)
            .field("max_connections", &self.max_connections)
            .field("max_sessions", &self.max_sessions)
            .field("originate_grace", &self.originate_grace)
            .field("heartbeat", &self.heartbeat)
            .finish()
    }
}

impl EslConfig {
    /// Defaults overridden by `FAXSERVER_ESL_LISTEN` and `FAXSERVER_ESL_PASSWORD` as `lookup`
    /// returns them (pass `|k| std::env::var(k).ok()`); an empty listen value means off.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = EslConfig::default();
        if let Some(listen) = lookup("FAXSERVER_ESL_LISTEN").filter(|v| !v.trim().is_empty()) {
            config.listen = Some(listen.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "FAXSERVER_ESL_LISTEN must be an address and port such as 127.0.0.1:8021, not {listen:?}"
                ))
            })?);
        }
        if let Some(password) = lookup("FAXSERVER_ESL_PASSWORD") {
            if password.is_empty() || password.contains(['\r', '\n']) {
                return Err(Error::Config(
                    "FAXSERVER_ESL_PASSWORD must be one non-empty line".to_owned(),
                ));
            }
            config.password = password;
        }
        Ok(config)
    }
}

/// What the Event Socket runs against.
#[derive(Clone)]
pub struct EslDeps {
    /// The store (`db`, gateways).
    pub store: Arc<dyn Store>,
    /// The engine's event bus.
    pub bus: EventBus,
    /// The rest of the server (originate, hang-ups, reload).
    pub backend: Arc<dyn EslBackend>,
}

/// A running Event Socket; dropping it stops it too.
#[derive(Debug)]
pub struct EslServer {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    channels: Arc<Channels>,
}

impl EslServer {
    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The live channels it tracks.
    pub fn channels(&self) -> &Arc<Channels> {
        &self.channels
    }

    /// Tells connected clients the system is shutting down, closes them and stops.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the Event Socket if `config.listen` is set; `Ok(None)` when it is off. Events
/// published on `deps.bus` from the moment this returns are rendered.
pub async fn spawn(config: EslConfig, deps: EslDeps) -> Result<Option<EslServer>> {
    let Some(listen) = config.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let hostname = config.hostname.clone().unwrap_or_else(machine_hostname);
    let ipv4 = match local_addr.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => ip.to_string(),
        _ => "127.0.0.1".to_owned(),
    };
    let renderer = Arc::new(Renderer::new(Identity {
        core_uuid: uuid::Uuid::new_v4().to_string(),
        switchname: hostname.clone(),
        hostname,
        ipv4,
        ipv6: "::1".to_owned(),
    }));
    let channels = Arc::new(Channels::new());
    let (hub, _) = broadcast::channel(HUB_CAPACITY);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let ctx = Arc::new(ApiContext {
        backend: deps.backend,
        db: ModDb::new(Arc::clone(&deps.store), config.fallback_ttl),
        store: deps.store,
        channels: Arc::clone(&channels),
        bus: deps.bus.clone(),
        hub: hub.clone(),
        renderer: Arc::clone(&renderer),
        started: Instant::now(),
        profile: config.profile.clone(),
        max_sessions: config.max_sessions,
        originate_grace: config.originate_grace,
    });
    let render = tokio::spawn(render_events(
        deps.bus.subscribe(),
        renderer,
        Arc::clone(&channels),
        hub.clone(),
        shutdown_rx.clone(),
    ));
    let mut tasks = vec![render];
    if let Some(every) = config.heartbeat.filter(|d| !d.is_zero()) {
        tasks.push(tokio::spawn(heartbeats(
            Arc::clone(&ctx),
            every,
            shutdown_rx.clone(),
        )));
    }
    let accept = tokio::spawn(accept_loop(
        listener,
        ctx,
        Arc::new(config.password.clone()),
        hub,
        shutdown_rx,
        Arc::new(Semaphore::new(config.max_connections.max(1))),
    ));
    tracing::info!(%local_addr, "Event Socket listening");
    tasks.push(accept);
    Ok(Some(EslServer {
        local_addr,
        shutdown,
        tasks,
        channels,
    }))
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

async fn render_events(
    mut events: broadcast::Receiver<Stamped>,
    renderer: Arc<Renderer>,
    channels: Arc<Channels>,
    hub: broadcast::Sender<Arc<EslEvent>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(stamped) => {
                    for event in renderer.render(&stamped, &channels) {
                        let _ = hub.send(Arc::new(event));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(lost = n, "Event Socket fell behind the event bus");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// FreeSWITCH's periodic `HEARTBEAT`: monitoring tools watch it, and clients that only
/// read when bytes arrive rely on a steady stream.
async fn heartbeats(ctx: Arc<ApiContext>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let _ = ctx.hub.send(Arc::new(ctx.heartbeat(every)));
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ApiContext>,
    password: Arc<String>,
    hub: broadcast::Sender<Arc<EslEvent>>,
    mut shutdown: watch::Receiver<bool>,
    slots: Arc<Semaphore>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "Event Socket accept failed");
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::warn!(%peer, "Event Socket connection refused: too many connections");
                    let message = "Too many connections, go away.\n";
                    let notice = format!(
                        "Content-Type: text/rude-rejection\nContent-Length: {}\n\n{message}",
                        message.len()
                    );
                    let _ = stream.write_all(notice.as_bytes()).await;
                    continue;
                };
                tracing::debug!(%peer, "Event Socket connection");
                let conn = Connection {
                    ctx: Arc::clone(&ctx),
                    hub: hub.clone(),
                    events: hub.subscribe(),
                    shutdown: shutdown.clone(),
                };
                let password = Arc::clone(&password);
                connections.spawn(async move {
                    if let Err(e) = conn.run(stream, &password).await {
                        tracing::debug!(%peer, error = %e, "Event Socket connection ended");
                    }
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    while connections.join_next().await.is_some() {}
}

struct Connection {
    ctx: Arc<ApiContext>,
    hub: broadcast::Sender<Arc<EslEvent>>,
    events: broadcast::Receiver<Arc<EslEvent>>,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, password: &str) -> Result<()> {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let mut session = Session::new(password);
        writer.write_all(&session.greeting()).await?;
        let mut decoder = Decoder::new();
        let mut buf = vec![0u8; 16 * 1024];
        let auth_deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
        let mut new_uuid = || uuid::Uuid::new_v4().to_string();
        loop {
            tokio::select! {
                read = reader.read(&mut buf) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    decoder.feed(&buf[..n]);
                    loop {
                        let frame = match decoder.poll_frame() {
                            Ok(Some(frame)) => frame,
                            Ok(None) => break,
                            Err(e) => {
                                writer.write_all(&session.goodbye()).await?;
                                return Err(e);
                            }
                        };
                        for action in session.handle(&frame, &mut new_uuid) {
                            match action {
                                Action::Send(bytes) => writer.write_all(&bytes).await?,
                                Action::Api { command, arg } => {
                                    let reply = self.ctx.execute(&command, arg.as_deref()).await;
                                    writer.write_all(&codec::api_response(&reply)).await?;
                                }
                                Action::BgApi { job_uuid, command, arg } => {
                                    Arc::clone(&self.ctx).run_background(job_uuid, command, arg);
                                }
                                Action::Publish(event) => {
                                    let _ = self.hub.send(Arc::new(event));
                                }
                                Action::Close => {
                                    writer.write_all(&session.goodbye()).await?;
                                    let _ = writer.shutdown().await;
                                    return Ok(());
                                }
                            }
                        }
                    }
                }
                event = self.events.recv() => match event {
                    Ok(event) => {
                        if let Some(bytes) = session.encode_event(&event) {
                            writer.write_all(&bytes).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(lost = n, "Event Socket client too slow: events lost");
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                _ = self.shutdown.changed() => {
                    writer.write_all(&codec::disconnect_notice(SHUTDOWN_NOTICE)).await?;
                    let _ = writer.shutdown().await;
                    return Ok(());
                }
                _ = tokio::time::sleep_until(auth_deadline), if !session.authenticated() => {
                    writer.write_all(&session.goodbye()).await?;
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_environment() {
        let off = EslConfig::from_lookup(|_| None).unwrap();
        assert_eq!(off.listen, None);
        assert_eq!(off.password, "ClueCon");
        let on = EslConfig::from_lookup(|k| match k {
            "FAXSERVER_ESL_LISTEN" => Some("127.0.0.1:8021".to_owned()),
            "FAXSERVER_ESL_PASSWORD" => Some("s3cret".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(on.listen, Some("127.0.0.1:8021".parse().unwrap()));
        assert!(!format!("{on:?}").contains("s3cret"));
        assert!(EslConfig::from_lookup(
            |k| (k == "FAXSERVER_ESL_LISTEN").then(|| "8021".to_owned())
        )
        .is_err());
        assert!(
            EslConfig::from_lookup(|k| (k == "FAXSERVER_ESL_PASSWORD").then(String::new)).is_err()
        );
        let blank =
            EslConfig::from_lookup(|k| (k == "FAXSERVER_ESL_LISTEN").then(|| " ".to_owned()));
        assert_eq!(blank.unwrap().listen, None);
    }
}
