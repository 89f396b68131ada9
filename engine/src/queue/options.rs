//! A job's own dialling instructions, for jobs that did not come through `/fax/send`: an
//! Event Socket `originate {vars}sofia/gateway/<gw>/<number> &txfax(<file>)` names its
//! gateways, its ring time and FreeSWITCH channel variables (`fax_ident`, `fax_use_ecm`, …).
//!
//! They are kept in the store's key-value space under the job's document id, written before
//! the job is created: a worker that claims the job the moment it is committed already finds
//! them, and a crash in between leaves only an entry nobody reads.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use store::{DocumentId, Endpoint, EndpointId, EndpointKind, Job, Scope, Store};

use super::route::{Route, Target};
use crate::call::FaxOptions;
use crate::documents::header;
use crate::policy::Overrides;

/// The key-value namespace of job options (key: the document id).
pub const JOB_OPTIONS_NAMESPACE: &str = "job-options";
/// How long options are kept; far beyond any job's retries.
const KEEP: TimeDelta = TimeDelta::days(30);

/// What a job asks for beyond the queue's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOptions {
    /// Gateways to dial, in order, instead of the callee's endpoints.
    #[serde(default)]
    pub gateways: Vec<String>,
    /// Attempts per gateway (1 where the submitter retries by itself, as gofaxserver did).
    #[serde(default)]
    pub attempts: Option<u32>,
    /// Ring time in seconds.
    #[serde(default)]
    pub ring_timeout_secs: Option<u32>,
    /// Channel variables, read as the `override-<number>` entries are and applied over them.
    #[serde(default)]
    pub variables: Vec<(String, String)>,
}

impl JobOptions {
    /// The variables as overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides::from_entries(self.variables.iter().map(|(k, v)| (k, v)))
    }

    /// The ring time, when set.
    pub fn ring_timeout(&self) -> Option<Duration> {
        self.ring_timeout_secs
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(u64::from(s)))
    }
}

/// Stores `options` for the job that will hold `document`.
pub async fn save_job_options(
    store: &dyn Store,
    document: DocumentId,
    options: &JobOptions,
    now: DateTime<Utc>,
) -> store::Result<()> {
    let text = serde_json::to_string(options).unwrap_or_default();
    store
        .kv_set(
            JOB_OPTIONS_NAMESPACE,
            &document.0.to_string(),
            &text,
            Some(now + KEEP),
        )
        .await
}

/// The options stored for `job`, if any; an unreadable entry counts as none (logged).
pub async fn load_job_options(
    store: &dyn Store,
    job: &Job,
    now: DateTime<Utc>,
) -> store::Result<Option<JobOptions>> {
    let Some(doc) = job.document_id else {
        return Ok(None);
    };
    let Some(entry) = store
        .kv_get(JOB_OPTIONS_NAMESPACE, &doc.0.to_string(), now)
        .await?
    else {
        return Ok(None);
    };
    match serde_json::from_str(&entry.value) {
        Ok(o) => Ok(Some(o)),
        Err(e) => {
            tracing::warn!(job_id = %job.id, error = %e, "unreadable job options ignored");
            Ok(None)
        }
    }
}

/// The route of a job that names its gateways: those gateways, in order, as targets of one
/// destination (the callee). A gateway has no endpoint row here, so its target stands on a
/// stand-in endpoint whose id is the gateway's id negated (attempt rows keep it, and it
/// cannot collide with a real endpoint's).
pub async fn named_route(store: &dyn Store, job: &Job, names: &[String]) -> store::Result<Route> {
    let mut route = Route::default();
    for name in names {
        match store.get_gateway_by_name(name).await? {
            Some(gateway) => {
                let endpoint = Endpoint {
                    id: EndpointId(-gateway.id.0),
                    tenant_id: Some(job.tenant_id),
                    scope: Scope::Global,
                    scope_id: 0,
                    endpoint_type: EndpointKind::Gateway,
                    target: gateway.name.clone(),
                    priority: 0,
                    bridge: false,
                };
                route.targets.push(Target {
                    key: format!("endpoint:{}", endpoint.id.0),
                    destination: format!("callee:{}", job.callee),
                    endpoint,
                    gateway,
                });
            }
            None => route.unknown_gateways.push(name.clone()),
        }
    }
    Ok(route)
}

/// The POSIX TZ rule for the date in the header line of `job`'s faxes: the sending number's
/// zone, else its tenant's. `None` (the configured default) when neither is set, or when a
/// stored zone left the system database since it was validated (logged, not fatal: the fax
/// matters more than its header's clock).
pub async fn header_tz(store: &dyn Store, job: &Job) -> store::Result<Option<String>> {
    let number = match store::E164::parse(&job.caller) {
        Ok(n) => store
            .find_number(&n)
            .await?
            .filter(|n| n.tenant_id == job.tenant_id),
        Err(_) => None,
    };
    let mut zone = None;
    if let Some(n) = &number {
        zone = store.get_header_tz(job.tenant_id, Some(n.id)).await?;
    }
    if zone.is_none() {
        zone = store.get_header_tz(job.tenant_id, None).await?;
    }
    let Some(zone) = zone else {
        return Ok(None);
    };
    match store::header_tz::posix_rule(&zone) {
        Ok(rule) => Ok(Some(rule)),
        Err(e) => {
            tracing::warn!(job_id = %job.id, error = %e, "header time zone ignored");
            Ok(None)
        }
    }
}

/// The strftime-style format of the date in the header line of `job`'s faxes: the sending
/// number's, else its tenant's. `None` (SpanDSP draws its own header) when neither is set.
pub async fn header_date_format(store: &dyn Store, job: &Job) -> store::Result<Option<String>> {
    if let Ok(n) = store::E164::parse(&job.caller) {
        if let Some(n) = store.find_number(&n).await? {
            if n.tenant_id == job.tenant_id {
                if let Some(f) = store
                    .get_header_date_format(job.tenant_id, Some(n.id))
                    .await?
                {
                    return Ok(Some(f));
                }
            }
        }
    }
    store.get_header_date_format(job.tenant_id, None).await
}

/// `document` with our header line on every page, dated `at` in `options.header_tz`'s zone
/// with `format`, and `options` no longer asking SpanDSP for its own. `None` leaves both
/// as they are when the document cannot be re-encoded (logged: SpanDSP's header then).
pub async fn with_header_line(
    document: &[u8],
    format: &str,
    at: DateTime<Utc>,
    options: &mut FaxOptions,
) -> Option<Vec<u8>> {
    let date = header::format_date(at, options.header_tz.as_deref(), format);
    let text = options.header.clone().unwrap_or_default();
    let ident = options.ident.clone();
    let document = document.to_vec();
    // Decoding and re-encoding every page is CPU work: off the runtime's threads.
    let stamped =
        tokio::task::spawn_blocking(move || header::stamp_tiff(&document, &date, &text, &ident))
            .await;
    match stamped {
        Ok(Ok(tiff)) => {
            options.header = None;
            Some(tiff)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "own header line not drawn; SpanDSP's instead");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "own header line not drawn; SpanDSP's instead");
            None
        }
    }
}

/// `top`'s settings where it has them, else `base`'s.
pub fn layered(base: Overrides, top: &Overrides) -> Overrides {
    let mut out = base;
    out.enable_t38 = top.enable_t38.or(out.enable_t38);
    out.enable_t38_request = top.enable_t38_request.or(out.enable_t38_request);
    out.use_ecm = top.use_ecm.or(out.use_ecm);
    out.disable_v17 = top.disable_v17.or(out.disable_v17);
    out.verbose = top.verbose.or(out.verbose);
    if top.ident.is_some() {
        out.ident = top.ident.clone();
    }
    if top.header.is_some() {
        out.header = top.header.clone();
    }
    out.other
        .extend(top.other.iter().map(|(k, v)| (k.clone(), v.clone())));
    out.invalid.extend(top.invalid.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_variables_win_over_the_numbers() {
        let base = Overrides::from_entries([("fax_use_ecm", "false"), ("fax_ident", "NUMBER")]);
        let opts = JobOptions {
            variables: vec![
                ("fax_ident".into(), "JOB".into()),
                ("fax_enable_t38".into(), "true".into()),
            ],
            ring_timeout_secs: Some(30),
            ..JobOptions::default()
        };
        let o = layered(base, &opts.overrides());
        assert_eq!(o.ident.as_deref(), Some("JOB"));
        assert_eq!(o.use_ecm, Some(false));
        assert_eq!(o.enable_t38, Some(true));
        assert_eq!(opts.ring_timeout(), Some(Duration::from_secs(30)));
        let json = serde_json::to_string(&opts).unwrap();
        assert_eq!(serde_json::from_str::<JobOptions>(&json).unwrap(), opts);
    }
}
