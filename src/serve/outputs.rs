//! What leaves the server besides faxes: e-mail and webhooks (the `notify` crate), Loki, and
//! the FreeSWITCH Event Socket. Settings come from gofaxserver's `smtp.*` and `loki.*` keys,
//! faxserver's `esl.*` keys and `FAXSERVER_*` variables, which win.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use engine::events::{EngineEvent, EventBus};
use notify::{
    spawn_subscriber, DeliverySender, Encryption, Loki, LokiConfig, Mailer, Notifier, NotifyConfig,
    SenderConfig, SmtpConfig, SubscriberOptions,
};
use serde_json::json;
use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::File;

/// E-mail, Loki and Event Socket settings.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// The SMTP relay; `None` turns e-mail off.
    pub smtp: Option<SmtpConfig>,
    /// Attach the TIFF beside the PDF in fax e-mails (`smtp.attach_tiff`).
    pub attach_tiff: bool,
    /// Where fax events are pushed as log lines; `None`: nowhere.
    pub loki: Option<LokiConfig>,
    /// The Event Socket (off unless `FAXSERVER_ESL_LISTEN` or `esl.listen` is set).
    pub esl: fs_compat::EslConfig,
}

/// Reads the settings from the file and the environment.
pub(super) fn load(f: &File, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Outputs> {
    let env_set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let text = |var: &str, key: &str| -> anyhow::Result<Option<String>> {
        Ok(env_set(var).or(f.text(key)?))
    };
    let smtp = match text("FAXSERVER_SMTP_HOST", "smtp.host")? {
        None => None,
        Some(host) => {
            let encryption = match text("FAXSERVER_SMTP_ENCRYPTION", "smtp.encryption")? {
                Some(e) => Encryption::parse(&e).map_err(|e| anyhow!("{e}"))?,
                None => Encryption::StartTls,
            };
            let port = match env_set("FAXSERVER_SMTP_PORT") {
                Some(p) => p
                    .trim()
                    .parse()
                    .with_context(|| format!("FAXSERVER_SMTP_PORT {p:?} is not a port"))?,
                None => match f.uint("smtp.port")? {
                    Some(p) => u16::try_from(p)
                        .map_err(|_| anyhow!("config key `smtp.port` is too large"))?,
                    None => match encryption {
                        Encryption::Tls => 465,
                        Encryption::StartTls => 587,
                        Encryption::None => 25,
                    },
                },
            };
            let from_address = text("FAXSERVER_SMTP_FROM", "smtp.from_address")?
                .unwrap_or_else(|| format!("faxserver@{}", host.trim()));
            Some(SmtpConfig {
                host: host.trim().to_owned(),
                port,
                encryption,
                username: text("FAXSERVER_SMTP_USER", "smtp.username")?.unwrap_or_default(),
                password: env("FAXSERVER_SMTP_PASSWORD")
                    .or(f.string("smtp.password")?)
                    .unwrap_or_default(),
                from_address,
                from_name: text("FAXSERVER_SMTP_FROM_NAME", "smtp.from_name")?
                    .unwrap_or_else(|| "faxserver".to_owned()),
                extra_root_pem: None,
                timeout: Duration::from_secs(60),
            })
        }
    };
    // gofaxserver's `loki.enabled: false` keeps a configured URL off.
    let loki_on = f.bool("loki.enabled")?.unwrap_or(true);
    let loki = match text("FAXSERVER_LOKI_URL", "loki.push_url")? {
        Some(url) if loki_on || env_set("FAXSERVER_LOKI_URL").is_some() => {
            let mut c = LokiConfig::new(url.trim());
            c.username = text("FAXSERVER_LOKI_USER", "loki.username")?.unwrap_or_default();
            c.password = env("FAXSERVER_LOKI_PASSWORD")
                .or(f.string("loki.password")?)
                .unwrap_or_default();
            if let Some(job) = text("FAXSERVER_LOKI_JOB", "loki.job")? {
                c.job = job;
            }
            Some(c)
        }
        _ => None,
    };
    let file_esl = |k: &str| -> Option<String> {
        match k {
            "FAXSERVER_ESL_LISTEN" => f.text("esl.listen").ok().flatten(),
            "FAXSERVER_ESL_PASSWORD" => f.string("esl.password").ok().flatten(),
            _ => None,
        }
    };
    let esl = fs_compat::EslConfig::from_lookup(|k| env(k).or_else(|| file_esl(k)))
        .map_err(|e| anyhow!("{e}"))?;
    Ok(Outputs {
        smtp,
        attach_tiff: f.bool("smtp.attach_tiff")?.unwrap_or(false),
        loki,
        esl,
    })
}

/// The running notification pipeline and Loki shipper.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops listening and sending; what is still due stays in the delivery log for the
    /// next start.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Starts the delivery sender, the bus subscriber that enqueues webhooks and e-mails, and,
/// when configured, Loki with a bus listener that ships one line per fax event.
pub fn start(cfg: &Outputs, store: Arc<dyn Store>, bus: &EventBus) -> anyhow::Result<Running> {
    let clock = notify::Clock::system();
    let mailer = match &cfg.smtp {
        Some(s) => Some(Mailer::new(s).map_err(|e| anyhow!("SMTP settings: {e}"))?),
        None => None,
    };
    let sender = DeliverySender::new(
        store.clone(),
        clock.clone(),
        mailer,
        SenderConfig::default(),
    )
    .map_err(|e| anyhow!("starting the webhook sender: {e}"))?;
    let notifier = Notifier::new(
        store,
        clock.clone(),
        NotifyConfig {
            smtp: cfg.smtp.clone(),
            attach_tiff: cfg.attach_tiff,
        },
    )
    .with_waker(sender.waker());
    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![
        tokio::spawn(sender.run(stopped.clone())),
        spawn_subscriber(bus, notifier, SubscriberOptions::default(), stopped.clone()),
    ];
    if let Some(loki_cfg) = &cfg.loki {
        let (loki, shipper) = Loki::start(loki_cfg.clone(), clock)
            .map_err(|e| anyhow!("starting Loki shipping: {e}"))?;
        tasks.push(tokio::spawn(ship_events(bus.subscribe(), loki, stopped)));
        // The shipper ends once the last handle is gone, after flushing what it holds.
        drop(shipper);
    }
    tracing::info!(
        smtp = cfg.smtp.is_some(),
        loki = cfg.loki.is_some(),
        "notifications running"
    );
    Ok(Running { stop, tasks })
}

/// One Loki line per fax event, `type` FAX (gofaxserver's labels: `job`, `type`).
async fn ship_events(
    mut rx: tokio::sync::broadcast::Receiver<engine::events::Stamped>,
    loki: Loki,
    mut stop: watch::Receiver<bool>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let s = tokio::select! {
            r = rx.recv() => r,
            _ = stop.changed() => return,
        };
        match s {
            Ok(s) => {
                let (message, level) = match &s.event {
                    EngineEvent::JobFailed { .. } => ("fax job failed", "error"),
                    EngineEvent::JobDelivered { .. } => ("fax job delivered", "info"),
                    EngineEvent::FaxReceived { .. } => ("fax received", "info"),
                    EngineEvent::JobQueued { .. } => ("fax job queued", "info"),
                    EngineEvent::CallEnded { .. } => ("call ended", "info"),
                    _ => continue,
                };
                let data = serde_json::to_value(&s).unwrap_or_else(|_| json!({}));
                loki.push("fax", level, message, data);
            }
            Err(RecvError::Lagged(n)) => tracing::warn!(lost = n, "Loki listener fell behind"),
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(file: serde_json::Value, vars: &[(&str, &str)]) -> anyhow::Result<Outputs> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        load(&File(&file), &env)
    }

    #[test]
    fn gofaxserver_smtp_and_loki_keys_with_environment_overrides() {
        let file = json!({
            "smtp": {"host": "mail.example.com", "port": 2525, "username": "fax",
                     "password": "pw", "encryption": "ssl", "from_address": "fax@example.com"},
            "loki": {"enabled": true, "push_url": "http://loki:3100/loki/api/v1/push", "job": "fax"},
            "esl": {"listen": "127.0.0.1:8021", "password": "FromFile"},
        });
        let o = read(file.clone(), &[]).unwrap();
        let smtp = o.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.com", 2525));
        assert_eq!(smtp.encryption, Encryption::Tls);
        assert_eq!(
            (smtp.username.as_str(), smtp.password.as_str()),
            ("fax", "pw")
        );
        assert_eq!(smtp.from_address, "fax@example.com");
        assert_eq!(o.loki.unwrap().job, "fax");
        assert_eq!(o.esl.listen, Some("127.0.0.1:8021".parse().unwrap()));
        assert_eq!(o.esl.password, "FromFile");

        let o = read(
            file,
            &[
                ("FAXSERVER_SMTP_HOST", "relay.local"),
                ("FAXSERVER_SMTP_ENCRYPTION", "none"),
                ("FAXSERVER_ESL_PASSWORD", "FromEnv"),
            ],
        )
        .unwrap();
        let smtp = o.smtp.unwrap();
        assert_eq!(smtp.host, "relay.local");
        assert_eq!(smtp.encryption, Encryption::None);
        assert_eq!(o.esl.password, "FromEnv");
    }

    #[test]
    fn off_unless_configured_and_bad_values_are_errors() {
        let o = read(
            json!({"loki": {"enabled": false, "push_url": "http://x"}}),
            &[],
        )
        .unwrap();
        assert!(o.smtp.is_none() && o.loki.is_none() && o.esl.listen.is_none());
        let o = read(json!({"smtp": {"host": "m"}}), &[]).unwrap();
        let smtp = o.smtp.unwrap();
        assert_eq!((smtp.encryption, smtp.port), (Encryption::StartTls, 587));
        assert_eq!(smtp.from_address, "faxserver@m");
        assert!(read(json!({"smtp": {"host": "m", "encryption": "rot13"}}), &[]).is_err());
        assert!(read(json!({}), &[("FAXSERVER_ESL_LISTEN", "not an address")]).is_err());
        assert!(read(
            json!({}),
            &[("FAXSERVER_SMTP_HOST", "m"), ("FAXSERVER_SMTP_PORT", "x")]
        )
        .is_err());
    }
}
