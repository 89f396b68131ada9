//! `faxserver serve` settings: embedded defaults, then a JSON config file whose gofaxserver
//! keys keep their meaning (`gofaxserver-behaviour.md` §1), then `FAXSERVER_*` environment
//! variables, which win.
//!
//! gofaxserver ignored unknown keys and turned bad values into defaults without a word
//! (`retry_delay: "300"` became one minute). Here an unknown key is a warning, a key we
//! accept but do not use (FreeSWITCH sockets, Loki, SMTP until notification lands) is a
//! note, and a value of the wrong type or form stops the start with a message naming the key.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use engine::call::CalledFrom;
use engine::queue::delay::parse_delay;
use serde_json::{Map, Value};

/// The default data directory (relative to the working directory, as design.md §5 has it;
/// packaged installs set `FAXSERVER_DATA_DIR=/var/lib/faxserver`).
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default API address: loopback only, until an operator decides to expose it.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8080";
/// Default SIP address.
pub const DEFAULT_SIP_LISTEN: &str = "0.0.0.0:5060";
/// Default media port range.
pub const DEFAULT_MEDIA_PORTS: (u16, u16) = (16384, 32767);
/// Default days a per-call debug bundle is kept: long enough for a carrier ticket.
pub const DEFAULT_DEBUG_RETENTION_DAYS: u32 = 14;

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// SQLite at this path (the embedded default: `<data dir>/faxserver.db`).
    SqlitePath(PathBuf),
    /// A `sqlite://…` or `postgres://…` URL (may hold a password: never logged).
    Url(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::SqlitePath(p) => write!(f, "SQLite at {}", p.display()),
            Database::Url(u) if u.starts_with("sqlite:") => f.write_str("SQLite (URL)"),
            Database::Url(_) => f.write_str("PostgreSQL (URL)"),
        }
    }
}

/// Something about the configuration the operator should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A key nobody knows: probably a typo.
    Unknown(String),
    /// A key we accept and do not use, with why.
    Unused(String, &'static str),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Unknown(k) => write!(f, "unknown config key `{k}` ignored"),
            Note::Unused(k, why) => write!(f, "config key `{k}` is not used: {why}"),
        }
    }
}

/// Everything `serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory (SQLite file, admin key, node id, spool).
    pub data_dir: PathBuf,
    /// The store.
    pub database: Database,
    /// REST API address.
    pub api_listen: SocketAddr,
    /// SIP address (UDP and TCP).
    pub sip_listen: SocketAddr,
    /// Address put in Via, Contact and SDP, when it differs from the bound one.
    pub sip_advertised: Option<IpAddr>,
    /// Media ports.
    pub media_ports: (u16, u16),
    /// Media clock speed; 1 unless both ends are faxserver test instances.
    pub media_speed: u32,
    /// Depth of the playout buffer of received G.711 audio.
    pub playout_depth: Duration,
    /// New calls are refused while the media clock is this late (`None`: never).
    pub overload: Option<Duration>,
    /// New calls are refused while the host's idle CPU is below this many per cent (0: never).
    pub min_idle_cpu: u8,
    /// The admin API key, when configured (else generated and kept in the data directory).
    pub admin_api_key: Option<Secret>,
    /// CSI of received faxes (`freeswitch.ident`).
    pub ident: String,
    /// Wait before answering (`faxing.answer_after`, ms).
    pub answer_after: Duration,
    /// Where the called number is read.
    pub called_from: CalledFrom,
    /// T.38 / ECM / V.17 policy.
    pub policy: engine::policy::Settings,
    /// Attempts per endpoint.
    pub retry_attempts: u32,
    /// First retry delay.
    pub retry_delay: Duration,
    /// Longest retry delay (`Retry-After` included).
    pub retry_max_delay: Duration,
    /// Causes of unanswered calls never retried.
    pub failed_response: Vec<String>,
    /// Resend only unconfirmed pages.
    pub resend_unconfirmed_pages: bool,
    /// Queue lease.
    pub lease: Duration,
    /// Idle workers ask the store this often.
    pub poll_interval: Duration,
    /// Concurrent channels in this process.
    pub max_channels: u32,
    /// Concurrent channels per tenant.
    pub max_channels_per_tenant: Option<u32>,
    /// Concurrent channels per gateway.
    pub max_channels_per_gateway: Option<u32>,
    /// New calls per second per gateway.
    pub gateway_calls_per_second: Option<f64>,
    /// How long running calls may go on after SIGTERM before they are cancelled.
    pub shutdown_grace: Duration,
    /// Where documents are written during calls (`faxing.temp_dir`).
    pub spool_dir: PathBuf,
    /// E-mail, Loki and the Event Socket.
    pub outputs: super::outputs::Outputs,
    /// Days per-call debug bundles are kept (`FAXSERVER_DEBUG_RETENTION_DAYS`, 14); 0 makes
    /// none at all.
    pub debug_retention_days: u32,
    /// What the operator should know about the file.
    pub notes: Vec<Note>,
}

/// How a key is handled.
#[derive(Clone, Copy)]
enum Key {
    Used,
    Unused(&'static str),
}

const NO_FREESWITCH: &str = "faxserver is its own SIP endpoint; there is no FreeSWITCH to talk to";

/// Every key we know, gofaxserver's first.
const KEYS: &[(&str, Key)] = &[
    ("freeswitch.event_client_socket", Key::Unused(NO_FREESWITCH)),
    (
        "freeswitch.event_client_socket_password",
        Key::Unused(NO_FREESWITCH),
    ),
    ("freeswitch.event_server_socket", Key::Unused(NO_FREESWITCH)),
    (
        "freeswitch.gateway",
        Key::Unused("gateways live in the database (/admin/gateway)"),
    ),
    ("freeswitch.ident", Key::Used),
    (
        "freeswitch.header",
        Key::Unused("each sending number's header is used, as in gofaxserver"),
    ),
    ("freeswitch.verbose", Key::Used),
    ("freeswitch.softmodem_fallback", Key::Used),
    ("faxing.temp_dir", Key::Used),
    ("faxing.enable_t38", Key::Used),
    ("faxing.request_t38", Key::Used),
    ("faxing.recipient_from_diversion_header", Key::Used),
    ("faxing.answer_after", Key::Used),
    (
        "faxing.wait_time",
        Key::Unused("no silence is played after answering"),
    ),
    ("faxing.disable_v17_after_retry", Key::Used),
    ("faxing.disable_ecm_after_retry", Key::Used),
    ("faxing.failed_response", Key::Used),
    (
        "faxing.failed_response_map",
        Key::Unused("it is rebuilt from failed_response, as in gofaxserver"),
    ),
    ("faxing.retry_delay", Key::Used),
    ("faxing.retry_attempts", Key::Used),
    ("database.host", Key::Used),
    ("database.port", Key::Used),
    ("database.user", Key::Used),
    ("database.password", Key::Used),
    ("database.database", Key::Used),
    ("loki.push_url", Key::Used),
    ("loki.username", Key::Used),
    ("loki.password", Key::Used),
    ("loki.job", Key::Used),
    ("loki.enabled", Key::Used),
    ("web.listen", Key::Used),
    ("web.api_key", Key::Used),
    ("smtp.host", Key::Used),
    ("smtp.port", Key::Used),
    ("smtp.username", Key::Used),
    ("smtp.password", Key::Used),
    ("smtp.encryption", Key::Used),
    ("smtp.from_address", Key::Used),
    ("smtp.from_name", Key::Used),
    (
        "psk",
        Key::Unused("passwords are argon2 hashes; no key encrypts them"),
    ),
    // faxserver's own keys.
    ("data_dir", Key::Used),
    ("database.url", Key::Used),
    ("sip.listen", Key::Used),
    ("sip.advertised_address", Key::Used),
    ("sip.media_ports", Key::Used),
    ("sip.media_speed", Key::Used),
    ("sip.playout_depth_ms", Key::Used),
    ("sip.overload_ms", Key::Used),
    ("sip.min_idle_cpu", Key::Used),
    ("faxing.retry_max_delay", Key::Used),
    ("faxing.resend_unconfirmed_pages", Key::Used),
    ("faxing.use_ecm", Key::Used),
    ("queue.lease", Key::Used),
    ("queue.poll_interval", Key::Used),
    ("queue.max_channels", Key::Used),
    ("queue.max_channels_per_tenant", Key::Used),
    ("queue.max_channels_per_gateway", Key::Used),
    ("queue.gateway_calls_per_second", Key::Used),
    ("queue.shutdown_grace", Key::Used),
    ("smtp.attach_tiff", Key::Used),
    ("esl.listen", Key::Used),
    ("esl.password", Key::Used),
];

/// Lists what the file says that we do not use, or do not know.
fn notes(root: &Value) -> Vec<Note> {
    let mut out = Vec::new();
    if let Value::Object(map) = root {
        walk(map, "", &mut out);
    }
    // In key order, whatever order serde_json keeps maps in.
    out.sort_by(|a, b| note_key(a).cmp(note_key(b)));
    out
}

fn note_key(n: &Note) -> &str {
    match n {
        Note::Unknown(k) | Note::Unused(k, _) => k,
    }
}

fn walk(map: &Map<String, Value>, prefix: &str, out: &mut Vec<Note>) {
    for (k, v) in map {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match KEYS.iter().find(|(name, _)| *name == path) {
            Some((_, Key::Used)) => {}
            Some((_, Key::Unused(why))) => {
                if is_set(v) {
                    out.push(Note::Unused(path, why));
                }
            }
            None => match v {
                Value::Object(inner) => walk(inner, &path, out),
                _ => out.push(Note::Unknown(path)),
            },
        }
    }
}

/// Whether a value says anything (gofaxserver's samples carry empty strings and `false`).
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
    }
}

/// Typed reads from the file, naming the key on error.
pub(super) struct File<'a>(pub(super) &'a Value);

impl File<'_> {
    fn get(&self, path: &str) -> Option<&Value> {
        let mut v = self.0;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        (!v.is_null()).then_some(v)
    }

    pub(super) fn string(&self, path: &str) -> anyhow::Result<Option<String>> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => bail!("config key `{path}` must be a string"),
        }
    }

    /// A non-empty string (gofaxserver's samples leave unused keys as "").
    pub(super) fn text(&self, path: &str) -> anyhow::Result<Option<String>> {
        Ok(self.string(path)?.filter(|s| !s.trim().is_empty()))
    }

    pub(super) fn bool(&self, path: &str) -> anyhow::Result<Option<bool>> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => bail!("config key `{path}` must be true or false"),
        }
    }

    /// A whole number written as a number or, as gofaxserver's `retry_attempts`, a string.
    pub(super) fn uint(&self, path: &str) -> anyhow::Result<Option<u64>> {
        let bad = || anyhow!("config key `{path}` must be a whole number");
        match self.get(path) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }

    fn number(&self, path: &str) -> anyhow::Result<Option<f64>> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => bail!("config key `{path}` must be a number"),
        }
    }

    fn delay(&self, path: &str) -> anyhow::Result<Option<Duration>> {
        let text = match self.get(path) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(_) => bail!("config key `{path}` must be a delay such as \"300\" or \"5m\""),
        };
        parse_delay(&text)
            .map(Some)
            .with_context(|| format!("config key `{path}`"))
    }

    fn strings(&self, path: &str) -> anyhow::Result<Vec<String>> {
        match self.get(path) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| anyhow!("config key `{path}` must be a list of strings"))
                })
                .collect(),
            Some(_) => bail!("config key `{path}` must be a list of strings"),
        }
    }
}

fn u32_of(path: &str, v: Option<u64>) -> anyhow::Result<Option<u32>> {
    v.map(|n| u32::try_from(n).map_err(|_| anyhow!("config key `{path}` is too large")))
        .transpose()
}

fn addr(what: &str, s: &str) -> anyhow::Result<SocketAddr> {
    s.trim()
        .parse()
        .with_context(|| format!("{what}: {s:?} is not an address such as 127.0.0.1:8080"))
}

/// `LOW-HIGH`.
pub fn port_range(what: &str, s: &str) -> anyhow::Result<(u16, u16)> {
    let parse = || -> Option<(u16, u16)> {
        let (lo, hi) = s.split_once('-')?;
        let (lo, hi) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
        (lo <= hi).then_some((lo, hi))
    };
    parse().ok_or_else(|| anyhow!("{what}: {s:?} is not a port range such as 16384-32767"))
}

/// Percent-encodes a URL user or password.
fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// gofaxserver's `database.*` keys as a PostgreSQL URL (`POSTGRES_SSLMODE` as it read it).
fn postgres_url(
    file: &File,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<String>> {
    let name = file.text("database.database")?;
    let host = file.text("database.host")?;
    if name.is_none() && host.is_none() {
        return Ok(None);
    }
    let host = host.unwrap_or_else(|| "localhost".into());
    let port = match file.uint("database.port")? {
        Some(p) => p.to_string(),
        None => "5432".into(),
    };
    let auth = match (
        file.text("database.user")?,
        file.string("database.password")?,
    ) {
        (Some(u), Some(p)) if !p.is_empty() => format!("{}:{}@", url_part(&u), url_part(&p)),
        (Some(u), _) => format!("{}@", url_part(&u)),
        (None, _) => String::new(),
    };
    let sslmode = env("POSTGRES_SSLMODE").unwrap_or_else(|| "disable".into());
    let db = name.unwrap_or_else(|| "postgres".into());
    Ok(Some(format!(
        "postgres://{auth}{host}:{port}/{}?sslmode={}",
        url_part(&db),
        url_part(&sslmode)
    )))
}

/// Reads the settings: `file` is the config file's name and contents, if there is one;
/// `env` looks up environment variables.
pub fn load(
    file: Option<(&str, &str)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Config> {
    let root: Value = match file {
        Some((name, text)) => {
            serde_json::from_str(text).with_context(|| format!("{name} is not valid JSON"))?
        }
        None => Value::Object(Map::new()),
    };
    if !root.is_object() {
        bail!("the config file must hold a JSON object");
    }
    let f = File(&root);
    let env_set = |k: &str| env(k).filter(|v| !v.trim().is_empty());

    let data_dir = PathBuf::from(
        env_set("FAXSERVER_DATA_DIR")
            .or(f.text("data_dir")?)
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
    );
    let database = match env_set("FAXSERVER_DATABASE_URL").or(f.text("database.url")?) {
        Some(url) => Database::Url(url),
        None => match postgres_url(&f, env)? {
            Some(url) => Database::Url(url),
            None => Database::SqlitePath(data_dir.join("faxserver.db")),
        },
    };
    if let Database::Url(u) = &database {
        if !(u.starts_with("sqlite:")
            || u.starts_with("postgres://")
            || u.starts_with("postgresql://"))
        {
            bail!("the database URL must start with sqlite:// or postgres://");
        }
    }
    let api_listen = match env_set("FAXSERVER_API_LISTEN") {
        Some(s) => addr("FAXSERVER_API_LISTEN", &s)?,
        None => addr(
            "web.listen",
            &f.text("web.listen")?
                .unwrap_or_else(|| DEFAULT_API_LISTEN.into()),
        )?,
    };
    let sip_listen = match env_set("FAXSERVER_SIP_LISTEN") {
        Some(s) => addr("FAXSERVER_SIP_LISTEN", &s)?,
        None => addr(
            "sip.listen",
            &f.text("sip.listen")?
                .unwrap_or_else(|| DEFAULT_SIP_LISTEN.into()),
        )?,
    };
    let sip_advertised =
        match env_set("FAXSERVER_SIP_ADVERTISED_ADDRESS").or(f.text("sip.advertised_address")?) {
            Some(s) => Some(
                s.trim()
                    .parse::<IpAddr>()
                    .with_context(|| format!("advertised address {s:?} is not an IP address"))?,
            ),
            None => None,
        };
    let media_ports = match env_set("FAXSERVER_MEDIA_PORTS").or(f.text("sip.media_ports")?) {
        Some(s) => port_range("media ports", &s)?,
        None => DEFAULT_MEDIA_PORTS,
    };
    let admin_api_key = env_set("FAXSERVER_ADMIN_API_KEY")
        .or(f.text("web.api_key")?)
        .map(|k| Secret(k.trim().to_owned()));

    let mut policy = engine::policy::Settings::default();
    if let Some(v) = f.bool("faxing.enable_t38")? {
        policy.enable_t38 = v;
    }
    if let Some(v) = f.bool("faxing.request_t38")? {
        policy.request_t38 = v;
    }
    if let Some(v) = f.bool("freeswitch.softmodem_fallback")? {
        policy.softmodem_fallback = v;
    }
    if let Some(v) = f.bool("freeswitch.verbose")? {
        policy.verbose = v;
    }
    if let Some(v) = f.bool("faxing.use_ecm")? {
        policy.use_ecm = v;
    }
    if let Some(v) = u32_of(
        "faxing.disable_v17_after_retry",
        f.uint("faxing.disable_v17_after_retry")?,
    )? {
        policy.disable_v17_after_retry = v;
    }
    if let Some(v) = u32_of(
        "faxing.disable_ecm_after_retry",
        f.uint("faxing.disable_ecm_after_retry")?,
    )? {
        policy.disable_ecm_after_retry = v;
    }
    let retry_attempts = match u32_of("faxing.retry_attempts", f.uint("faxing.retry_attempts")?)? {
        Some(0) => bail!("config key `faxing.retry_attempts` must be at least 1"),
        Some(n) => n,
        None => 3,
    };
    let called_from = if f
        .bool("faxing.recipient_from_diversion_header")?
        .unwrap_or(false)
    {
        CalledFrom::Diversion
    } else {
        CalledFrom::RequestUri
    };
    let max_channels = u32_of("queue.max_channels", f.uint("queue.max_channels")?)?.unwrap_or(64);
    if max_channels == 0 {
        bail!("config key `queue.max_channels` must be at least 1");
    }
    let media_speed = u32_of("sip.media_speed", f.uint("sip.media_speed")?)?
        .unwrap_or(1)
        .max(1);
    // A whole number of `unit` from the environment, else from the file.
    let whole = |var: &str, key: &str, unit: &str| -> anyhow::Result<Option<u64>> {
        match env_set(var) {
            Some(s) => Ok(Some(s.trim().parse::<u64>().with_context(|| {
                format!("{var} {s:?} is not a whole number of {unit}")
            })?)),
            None => f.uint(key),
        }
    };
    let millis = |var: &str, key: &str| whole(var, key, "milliseconds");
    let playout_depth = match millis("FAXSERVER_PLAYOUT_DEPTH_MS", "sip.playout_depth_ms")? {
        None => engine::call::DEFAULT_PLAYOUT_DEPTH,
        Some(ms @ 20..=1000) => Duration::from_millis(ms),
        Some(ms) => bail!("playout depth {ms} ms is outside 20–1000 ms"),
    };
    let overload = match millis("FAXSERVER_OVERLOAD_MS", "sip.overload_ms")? {
        None => Some(engine::call::OverloadGuard::default().max_lateness),
        Some(0) => None,
        Some(ms @ 40..=10_000) => Some(Duration::from_millis(ms)),
        Some(ms) => bail!("overload threshold {ms} ms is outside 40–10000 ms (0 turns it off)"),
    };
    let min_idle_cpu =
        match whole("FAXSERVER_MIN_IDLE_CPU", "sip.min_idle_cpu", "per cent")?.unwrap_or(0) {
            pct @ 0..=99 => pct as u8,
            pct => bail!("minimum idle CPU {pct} % is outside 0–99 % (0 turns it off)"),
        };
    let debug_retention_days = match env_set("FAXSERVER_DEBUG_RETENTION_DAYS") {
        Some(s) => s.trim().parse::<u32>().with_context(|| {
            format!("FAXSERVER_DEBUG_RETENTION_DAYS {s:?} is not a whole number of days")
        })?,
        None => DEFAULT_DEBUG_RETENTION_DAYS,
    };
    let gateway_calls_per_second = match f.number("queue.gateway_calls_per_second")? {
        Some(r) if r <= 0.0 => None,
        Some(r) => Some(r),
        None => Some(10.0),
    };
    Ok(Config {
        spool_dir: f
            .text("faxing.temp_dir")?
            .map_or_else(|| data_dir.join("spool"), PathBuf::from),
        data_dir,
        database,
        api_listen,
        sip_listen,
        sip_advertised,
        media_ports,
        media_speed,
        playout_depth,
        overload,
        min_idle_cpu,
        admin_api_key,
        ident: f.text("freeswitch.ident")?.unwrap_or_default(),
        answer_after: Duration::from_millis(f.uint("faxing.answer_after")?.unwrap_or(0)),
        called_from,
        policy,
        retry_attempts,
        retry_delay: f
            .delay("faxing.retry_delay")?
            .unwrap_or(Duration::from_secs(60)),
        retry_max_delay: f
            .delay("faxing.retry_max_delay")?
            .unwrap_or(Duration::from_secs(3600)),
        failed_response: f.strings("faxing.failed_response")?,
        resend_unconfirmed_pages: f.bool("faxing.resend_unconfirmed_pages")?.unwrap_or(true),
        lease: f
            .delay("queue.lease")?
            .unwrap_or(Duration::from_secs(60))
            .max(Duration::from_secs(3)),
        poll_interval: f
            .delay("queue.poll_interval")?
            .unwrap_or(Duration::from_millis(500)),
        max_channels,
        max_channels_per_tenant: u32_of(
            "queue.max_channels_per_tenant",
            f.uint("queue.max_channels_per_tenant")?,
        )?,
        max_channels_per_gateway: u32_of(
            "queue.max_channels_per_gateway",
            f.uint("queue.max_channels_per_gateway")?,
        )?,
        gateway_calls_per_second,
        shutdown_grace: f
            .delay("queue.shutdown_grace")?
            .unwrap_or(Duration::from_secs(30)),
        outputs: super::outputs::load(&f, env)?,
        debug_retention_days,
        notes: notes(&root),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_without_a_file() {
        let c = load(None, &env(&[])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(
            c.database,
            Database::SqlitePath(PathBuf::from("./data/faxserver.db"))
        );
        assert_eq!(c.api_listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.sip_listen, "0.0.0.0:5060".parse().unwrap());
        assert_eq!(c.media_ports, (16384, 32767));
        assert_eq!(c.playout_depth, Duration::from_millis(100));
        assert_eq!(c.overload, Some(Duration::from_millis(300)));
        assert_eq!(c.min_idle_cpu, 0, "no CPU floor unless asked for");
        assert_eq!(c.admin_api_key, None);
        assert_eq!(c.retry_attempts, 3);
        assert_eq!(c.retry_delay, Duration::from_secs(60));
        assert!(c.resend_unconfirmed_pages);
        assert_eq!(c.spool_dir, PathBuf::from("./data/spool"));
        assert_eq!(c.debug_retention_days, 14);
        assert!(c.notes.is_empty());
    }

    #[test]
    fn debug_retention_days_come_from_the_environment() {
        let days = |v: &str| load(None, &env(&[("FAXSERVER_DEBUG_RETENTION_DAYS", v)]));
        assert_eq!(days("30").unwrap().debug_retention_days, 30);
        assert_eq!(days(" 0 ").unwrap().debug_retention_days, 0);
        let e = days("two weeks").unwrap_err();
        assert!(
            format!("{e:#}").contains("FAXSERVER_DEBUG_RETENTION_DAYS"),
            "{e:#}"
        );
        assert!(days("-1").is_err());
    }

    #[test]
    fn gofaxserver_keys_keep_their_meaning() {
        let file = r#"{
            "freeswitch": {"event_client_socket": "127.0.0.1:8021", "ident": "ACME FAX",
                           "header": "", "verbose": true, "softmodem_fallback": true,
                           "gateway": ["a", "b"]},
            "faxing": {"temp_dir": "/tmp/fax", "enable_t38": true, "request_t38": true,
                       "recipient_from_diversion_header": true, "answer_after": 2000,
                       "disable_v17_after_retry": "2", "disable_ecm_after_retry": "3",
                       "failed_response": ["UNALLOCATED_NUMBER", "CALL_REJECTED"],
                       "failed_response_map": {"X": true},
                       "retry_delay": "300", "retry_attempts": "5"},
            "web": {"listen": "0.0.0.0:9090", "api_key": "k3y"},
            "loki": {"enabled": false, "push_url": ""},
            "smtp": {"host": "mail.example.com", "port": 587},
            "psk": "secret"
        }"#;
        let c = load(Some(("config.json", file)), &env(&[])).unwrap();
        assert_eq!(c.ident, "ACME FAX");
        assert!(c.policy.verbose && c.policy.softmodem_fallback);
        assert!(c.policy.enable_t38 && c.policy.request_t38);
        assert_eq!(c.called_from, CalledFrom::Diversion);
        assert_eq!(c.answer_after, Duration::from_secs(2));
        assert_eq!(c.policy.disable_v17_after_retry, 2);
        assert_eq!(c.policy.disable_ecm_after_retry, 3);
        assert_eq!(
            c.failed_response,
            vec!["UNALLOCATED_NUMBER", "CALL_REJECTED"]
        );
        assert_eq!(
            c.retry_delay,
            Duration::from_secs(300),
            "plain seconds, unlike gofaxserver"
        );
        assert_eq!(c.retry_attempts, 5);
        assert_eq!(c.api_listen, "0.0.0.0:9090".parse().unwrap());
        assert_eq!(c.admin_api_key, Some(Secret("k3y".into())));
        assert_eq!(c.spool_dir, PathBuf::from("/tmp/fax"));
        let unused: Vec<String> = c
            .notes
            .iter()
            .filter_map(|n| match n {
                Note::Unused(k, _) => Some(k.clone()),
                Note::Unknown(_) => None,
            })
            .collect();
        // Set keys we do not use are reported; empty ones and `false` are not.
        assert_eq!(
            unused,
            vec![
                "faxing.failed_response_map",
                "freeswitch.event_client_socket",
                "freeswitch.gateway",
                "psk",
            ]
        );
        assert!(
            c.notes.iter().all(|n| !matches!(n, Note::Unknown(_))),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn unknown_keys_are_reported() {
        let file = r#"{"faxing": {"retry_dealy": "5m", "retry_delay": "5m"}, "colour": "blue",
                       "web": {"tls": {"cert": "x"}}}"#;
        let c = load(Some(("c.json", file)), &env(&[])).unwrap();
        let unknown: Vec<String> = c.notes.iter().map(ToString::to_string).collect();
        assert_eq!(
            unknown,
            vec![
                "unknown config key `colour` ignored",
                "unknown config key `faxing.retry_dealy` ignored",
                "unknown config key `web.tls.cert` ignored",
            ]
        );
        assert_eq!(c.retry_delay, Duration::from_secs(300));
    }

    #[test]
    fn environment_wins_over_the_file() {
        let file = r#"{"web": {"listen": "0.0.0.0:9090", "api_key": "from-file"},
                       "data_dir": "/srv/fax", "database": {"url": "sqlite:///srv/fax/a.db"}}"#;
        let c = load(
            Some(("c.json", file)),
            &env(&[
                ("FAXSERVER_API_LISTEN", "127.0.0.1:7000"),
                ("FAXSERVER_SIP_LISTEN", "127.0.0.1:5070"),
                ("FAXSERVER_ADMIN_API_KEY", "from-env"),
                ("FAXSERVER_DATA_DIR", "/var/lib/faxserver"),
                ("FAXSERVER_DATABASE_URL", "postgres://u:p@db/fax"),
                ("FAXSERVER_MEDIA_PORTS", "20000-20999"),
                ("FAXSERVER_PLAYOUT_DEPTH_MS", "140"),
                ("FAXSERVER_OVERLOAD_MS", "0"),
                ("FAXSERVER_MIN_IDLE_CPU", "15"),
            ]),
        )
        .unwrap();
        assert_eq!(c.api_listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(c.sip_listen, "127.0.0.1:5070".parse().unwrap());
        assert_eq!(c.admin_api_key, Some(Secret("from-env".into())));
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/faxserver"));
        assert_eq!(c.database, Database::Url("postgres://u:p@db/fax".into()));
        assert_eq!(c.media_ports, (20000, 20999));
        assert_eq!(c.playout_depth, Duration::from_millis(140));
        assert_eq!(c.overload, None, "0 turns the overload guard off");
        assert_eq!(c.min_idle_cpu, 15);
        assert_eq!(c.spool_dir, PathBuf::from("/var/lib/faxserver/spool"));
        // Secrets stay out of Debug output.
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("from-env") && !dbg.contains("u:p@"), "{dbg}");
    }

    #[test]
    fn gofaxserver_database_keys_make_a_postgres_url() {
        let file = r#"{"database": {"host": "db.example", "port": "5433", "user": "fax",
                       "password": "p@ss word", "database": "gofax"}}"#;
        let c = load(
            Some(("c.json", file)),
            &env(&[("POSTGRES_SSLMODE", "require")]),
        )
        .unwrap();
        assert_eq!(
            c.database,
            Database::Url(
                "postgres://fax:p%40ss%20word@db.example:5433/gofax?sslmode=require".into()
            )
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            (
                r#"{"faxing": {"retry_delay": "soon"}}"#,
                "faxing.retry_delay",
            ),
            (
                r#"{"faxing": {"retry_attempts": "many"}}"#,
                "faxing.retry_attempts",
            ),
            (
                r#"{"faxing": {"retry_attempts": 0}}"#,
                "faxing.retry_attempts",
            ),
            (r#"{"faxing": {"enable_t38": "yes"}}"#, "faxing.enable_t38"),
            (r#"{"web": {"listen": "localhost"}}"#, "web.listen"),
            (r#"{"sip": {"media_ports": "9-1"}}"#, "media ports"),
            (
                r#"{"sip": {"playout_depth_ms": 5000}}"#,
                "playout depth 5000 ms",
            ),
            (
                r#"{"sip": {"overload_ms": 10}}"#,
                "overload threshold 10 ms",
            ),
            (
                r#"{"sip": {"min_idle_cpu": 100}}"#,
                "minimum idle CPU 100 %",
            ),
            (
                r#"{"database": {"url": "mysql://x"}}"#,
                "sqlite:// or postgres://",
            ),
            (r#"[1, 2]"#, "JSON object"),
            (r#"{"#, "not valid JSON"),
        ];
        for (file, needle) in cases {
            let e = load(Some(("c.json", file)), &env(&[])).unwrap_err();
            let text = format!("{e:#}");
            assert!(text.contains(needle), "{file}: {text}");
        }
    }
}
