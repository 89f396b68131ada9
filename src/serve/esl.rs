//! The Event Socket's view of the running server: `originate … &txfax(<file>)` queues an
//! outbound job as `/fax/send` does, `uuid_kill`/`hupall` hang up live calls, `reloadxml`
//! runs `/admin/reload`'s reload, and `sofia status` reads the gateways' registrations.

use std::sync::Arc;

use async_trait::async_trait;
use engine::call::SipAgent;
use engine::documents::{to_fax_tiff, ConvertOptions};
use engine::events::EngineEvent;
use engine::queue::{save_job_options, Events, JobOptions, Queue};
use fs_compat::api::HangupTarget;
use fs_compat::{EslBackend, FaxRequest};
use serde_json::json;
use store::{Direction, NewDocument, NewEvent, NewJob, NumberRules, Store};

use super::reload::GatewayReloader;

/// FreeSWITCH's cause for a request it cannot place (bad document, unknown caller).
const REJECTED: &str = "CALL_REJECTED";
/// FreeSWITCH's cause when the store failed.
const TEMPORARY: &str = "NORMAL_TEMPORARY_FAILURE";

/// The backend over the queue and the store.
pub struct QueueBackend {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The queue's bus and live calls.
    pub events: Events,
    /// Wakes the workers when a job is queued.
    pub queue: Queue,
    /// `/admin/reload`'s reload.
    pub reloader: Arc<GatewayReloader>,
    /// The SIP agent (registrations, address).
    pub agent: SipAgent,
}

impl QueueBackend {
    /// Commits the document, the job's own options and the job; its id.
    async fn queue_fax(&self, request: &FaxRequest) -> Result<String, &'static str> {
        let bytes = tokio::fs::read(&request.document).await.map_err(|e| {
            tracing::warn!(error = %e, "originate: the document cannot be read");
            "INVALID_FILE"
        })?;
        let doc = tokio::task::spawn_blocking(move || {
            to_fax_tiff(&bytes, &ConvertOptions::default()).map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| TEMPORARY)?
        .map_err(|e| {
            tracing::warn!(error = %e, "originate: the document is not a sendable fax");
            "INVALID_FILE"
        })?;
        // The job belongs to the tenant of the calling number, as /fax/send's do.
        let caller = request
            .caller_id_number
            .as_deref()
            .and_then(|c| NumberRules::nanp().normalize(c).ok())
            .ok_or_else(|| {
                tracing::warn!(
                    "originate: origination_caller_id_number is missing or not a number"
                );
                REJECTED
            })?;
        let number = self
            .store
            .find_number(&caller)
            .await
            .map_err(|_| TEMPORARY)?
            .ok_or_else(|| {
                tracing::warn!("originate: the calling number is none of our tenants'");
                REJECTED
            })?;
        let Some(first) = request.targets.first() else {
            return Err("CHAN_NOT_IMPLEMENTED");
        };
        let now = chrono::Utc::now();
        let store = self.store.as_ref();
        let pages = i64::from(doc.pages);
        let doc_id = store
            .create_document(
                &NewDocument {
                    tenant_id: number.tenant_id,
                    content_type: "image/tiff".into(),
                    pages,
                    data: doc.tiff,
                },
                now,
            )
            .await
            .map_err(|_| TEMPORARY)?;
        let mut variables = request.variables.clone();
        variables.extend(first.variables.iter().cloned());
        let options = JobOptions {
            gateways: request.targets.iter().map(|t| t.gateway.clone()).collect(),
            // gofaxserver retried by itself: one call per gateway, as FreeSWITCH placed.
            attempts: Some(1),
            ring_timeout_secs: request.timeout_secs,
            variables,
        };
        save_job_options(store, doc_id, &options, now)
            .await
            .map_err(|_| TEMPORARY)?;
        let job = store
            .create_job(
                &NewJob {
                    tenant_id: number.tenant_id,
                    direction: Direction::Outbound,
                    caller: caller.to_string(),
                    // As dialled: the gateway gets the number exactly as the client wrote it.
                    callee: first.number.clone(),
                    document_id: Some(doc_id),
                    priority: 0,
                    not_before: now,
                },
                now,
            )
            .await
            .map_err(|_| TEMPORARY)?;
        let event = NewEvent {
            at: now,
            tenant_id: Some(number.tenant_id),
            job_id: Some(job.id),
            kind: "job.queued".into(),
            detail: json!({ "source": "esl", "pages": pages, "gateways": options.gateways }),
        };
        if let Err(e) = store.append_event(&event).await {
            tracing::warn!(job_id = %job.id, error = %e, "could not log job.queued");
        }
        self.events.publish(EngineEvent::JobQueued {
            job_uuid: job.id.to_string(),
            tenant_id: number.tenant_id.0,
        });
        self.queue.wake();
        tracing::info!(job_id = %job.id, pages, "fax queued through the Event Socket");
        Ok(job.id.to_string())
    }
}

#[async_trait]
impl EslBackend for QueueBackend {
    async fn submit_fax(&self, request: FaxRequest) -> Result<String, String> {
        self.queue_fax(&request).await.map_err(str::to_owned)
    }

    async fn hangup(&self, target: &HangupTarget, cause: &str) -> bool {
        let calls = &self.events.calls;
        let found = [target.call_uuid.as_deref(), target.job_uuid.as_deref()]
            .into_iter()
            .flatten()
            .chain([target.uuid.as_str()])
            .any(|u| calls.hang_up(u));
        if found {
            tracing::info!(uuid = %target.uuid, %cause, "hang-up asked over the Event Socket");
        }
        found
    }

    async fn hangup_all(&self, cause: &str) -> usize {
        let n = self.events.calls.hang_up_all();
        tracing::info!(calls = n, %cause, "hupall over the Event Socket");
        n
    }

    async fn reload(&self) -> Result<(), String> {
        self.reloader.reload().await.map(|_| ())
    }

    async fn gateway_state(&self, name: &str) -> Option<String> {
        let gw = self.store.get_gateway_by_name(name).await.ok()??;
        if !gw.register {
            return Some("NOREG".to_owned());
        }
        let user = gw.username.clone().unwrap_or_default();
        let host = gw
            .uri
            .trim()
            .trim_start_matches("sips:")
            .trim_start_matches("sip:")
            .to_owned();
        let state = self
            .agent
            .registrations()
            .await
            .into_iter()
            .find(|r| r.aor.contains(&host) && (user.is_empty() || r.aor.contains(&user)))?;
        Some(
            match (state.registered, state.refused) {
                (true, _) => "REGED",
                (false, Some(_)) => "FAIL_WAIT",
                (false, None) => "TRYING",
            }
            .to_owned(),
        )
    }

    fn sip_url(&self) -> String {
        format!("sip:mod_sofia@{}", self.agent.local_addr())
    }
}
