//! What the rest of the server calls: turns facts about faxes into deliveries in the log,
//! which the [`crate::DeliverySender`] then sends and retries.
//!
//! - [`Notifier::lifecycle`]: a lifecycle event to every webhook endpoint of the tenant that
//!   has a signing secret (the secret is the opt-in, so gofaxserver-style endpoints that only
//!   expect faxes are not sent events they cannot parse);
//! - [`Notifier::deliver_fax`] / [`Notifier::deliver_received`]: the fax itself to `webhook`
//!   endpoints (gofaxserver's delivery payload) and `email` endpoints (PDF, and TIFF when
//!   configured);
//! - [`Notifier::job_finished`]: gofaxserver's notify strings of the sending and receiving
//!   tenants (`email_report`, `email_full`, `email_full_failure`, `webhook`, `webhook_form`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use store::{
    Channel, DeliveryId, Document, Endpoint, EndpointKind, JobId, NewDelivery, Scope, Store,
    TenantId, TenantNumber, E164,
};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::documents::{fax_pdf, first_page_pdf, is_tiff};
use crate::email::{build_message, split_addresses, Attachment, Email, SmtpConfig};
use crate::error::{Error, Result};
use crate::gofax::{delivery_request, notify_form, notify_webhook_body, JobFacts};
use crate::lifecycle::Lifecycle;
use crate::report::report_pdf;
use crate::spec::{parse_notify, NotifyKind};

/// What the notifier needs besides the store.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    /// The relay's settings (the sender's address goes into every message); `None` turns
    /// e-mail off, and e-mail deliveries are then refused with an error.
    pub smtp: Option<SmtpConfig>,
    /// Attach the TIFF beside the PDF in fax e-mails.
    pub attach_tiff: bool,
}

/// Enqueues deliveries; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
    clock: Clock,
    cfg: NotifyConfig,
    wake: Option<Arc<Notify>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

const JSON: &str = "application/json";

impl Notifier {
    /// A notifier writing to `store`.
    pub fn new(store: Arc<dyn Store>, clock: Clock, cfg: NotifyConfig) -> Self {
        Notifier {
            store,
            clock,
            cfg,
            wake: None,
        }
    }

    /// Rings `wake` (a [`crate::DeliverySender::waker`]) after every enqueue.
    pub fn with_waker(mut self, wake: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    async fn enqueue(&self, d: NewDelivery) -> Result<DeliveryId> {
        let now = self.clock.now();
        let row = self.store.create_delivery(&d, now).await?;
        tracing::debug!(delivery_id = %row.id, event = %row.event, channel = row.channel.as_str(), "delivery enqueued");
        if let Some(w) = &self.wake {
            w.notify_one();
        }
        Ok(row.id)
    }

    fn delivery(&self, tenant: TenantId, job: Option<JobId>, channel: Channel) -> NewDelivery {
        NewDelivery {
            tenant_id: Some(tenant),
            job_id: job,
            endpoint_id: None,
            channel,
            event: String::new(),
            target: String::new(),
            content_type: JSON.into(),
            headers: BTreeMap::new(),
            body: Vec::new(),
            not_before: self.clock.now(),
        }
    }

    /// Sends a lifecycle event to the tenant's subscribed webhook endpoints; a number-scoped
    /// endpoint only hears about jobs to or from its number.
    pub async fn lifecycle(&self, e: &Lifecycle) -> Result<Vec<DeliveryId>> {
        let endpoints = self.store.list_endpoints(Some(e.tenant_id)).await?;
        let job_id = e
            .job_uuid
            .as_deref()
            .and_then(|u| uuid::Uuid::parse_str(u).ok())
            .map(JobId);
        let mut numbers: Option<BTreeSet<i64>> = None;
        let body = e.body();
        let mut out = Vec::new();
        for ep in endpoints
            .iter()
            .filter(|ep| ep.endpoint_type == EndpointKind::Webhook)
        {
            let Some(secret) = self.store.get_webhook_secret(ep.id).await? else {
                continue;
            };
            if !secret.wants(e.kind.as_str()) {
                continue;
            }
            if ep.scope == Scope::Number {
                if numbers.is_none() {
                    numbers = Some(self.job_numbers(e.tenant_id, job_id).await?);
                }
                if !numbers.as_ref().is_some_and(|n| n.contains(&ep.scope_id)) {
                    continue;
                }
            }
            let mut d = self.delivery(e.tenant_id, job_id, Channel::Webhook);
            d.endpoint_id = Some(ep.id);
            d.event = e.kind.as_str().into();
            d.target = ep.target.clone();
            d.body = body.clone();
            out.push(self.enqueue(d).await?);
        }
        Ok(out)
    }

    /// Ids of the tenant's numbers a job is from or to.
    async fn job_numbers(&self, tenant: TenantId, job: Option<JobId>) -> Result<BTreeSet<i64>> {
        let Some(job) = job else {
            return Ok(BTreeSet::new());
        };
        let Some(job) = self.store.get_job(tenant, job).await? else {
            return Ok(BTreeSet::new());
        };
        Ok(self
            .store
            .list_numbers(tenant)
            .await?
            .into_iter()
            .filter(|n| n.number == job.caller || n.number == job.callee)
            .map(|n| n.id.0)
            .collect())
    }

    /// Everything a payload says about a job of `tenant`.
    pub async fn job_facts(&self, tenant: TenantId, job: JobId) -> Result<JobFacts> {
        let row = self
            .store
            .get_job(tenant, job)
            .await?
            .ok_or(Error::NotFound("job"))?;
        let attempts = self.store.list_attempts(tenant, job).await?;
        let caller = self.number(&row.caller).await?;
        let callee = self.number(&row.callee).await?;
        let mut f = JobFacts::of(row, attempts);
        if let Some(n) = &caller {
            f.src_tenant_id = n.tenant_id.0;
            f.caller_name = n.name.clone();
            f.header = n.header.clone();
        }
        if let Some(n) = &callee {
            f.dst_tenant_id = n.tenant_id.0;
        }
        Ok(f)
    }

    async fn number(&self, n: &str) -> Result<Option<TenantNumber>> {
        match E164::parse(n) {
            Ok(e) => Ok(self.store.find_number(&e).await?),
            Err(_) => Ok(None),
        }
    }

    async fn document(&self, f: &JobFacts) -> Result<Document> {
        let id = f.job.document_id.ok_or(Error::NotFound("document"))?;
        self.store
            .get_document(f.job.tenant_id, id)
            .await?
            .ok_or(Error::NotFound("document"))
    }

    fn smtp(&self) -> Result<&SmtpConfig> {
        self.cfg
            .smtp
            .as_ref()
            .ok_or_else(|| Error::config("smtp", "e-mail is not configured"))
    }

    /// Delivers a job's fax to one `webhook` or `email` endpoint (a gateway is dialled by
    /// the queue, not here).
    pub async fn deliver_fax(
        &self,
        tenant: TenantId,
        job: JobId,
        endpoint: &Endpoint,
    ) -> Result<DeliveryId> {
        let f = self.job_facts(tenant, job).await?;
        let doc = self.document(&f).await?;
        let pdf = fax_pdf(&doc).await?;
        self.deliver_fax_pdf(&f, &doc, &pdf, endpoint).await
    }

    async fn deliver_fax_pdf(
        &self,
        f: &JobFacts,
        doc: &Document,
        pdf: &[u8],
        endpoint: &Endpoint,
    ) -> Result<DeliveryId> {
        let tenant = f.job.tenant_id;
        match endpoint.endpoint_type {
            EndpointKind::Webhook => {
                let (body, headers) = delivery_request(f, endpoint, pdf);
                let mut d = self.delivery(tenant, Some(f.job.id), Channel::Webhook);
                d.endpoint_id = Some(endpoint.id);
                d.event = "delivery".into();
                d.target = endpoint.target.clone();
                d.headers = headers;
                d.body = body;
                self.enqueue(d).await
            }
            EndpointKind::Email => {
                let mut attachments = vec![Attachment {
                    filename: format!("fax_{}.pdf", f.job.id.0),
                    content_type: "application/pdf".into(),
                    data: pdf.to_vec(),
                }];
                if self.cfg.attach_tiff && is_tiff(doc) {
                    attachments.push(Attachment {
                        filename: format!("fax_{}.tif", f.job.id.0),
                        content_type: "image/tiff".into(),
                        data: doc.data.clone(),
                    });
                }
                let email = Email {
                    to: split_addresses(&endpoint.target),
                    subject: format!("Fax from {} to {}", f.job.caller, f.job.callee),
                    text: format!(
                        "A fax of {} page(s) from {} to {} arrived at {}.\r\nIt is attached as PDF.\r\n",
                        doc.pages,
                        f.job.caller,
                        f.job.callee,
                        f.job.created_at.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    attachments,
                };
                let mut d = self.delivery(tenant, Some(f.job.id), Channel::Email);
                d.endpoint_id = Some(endpoint.id);
                d.event = "email".into();
                d.target = email.to.join(";");
                d.content_type = "message/rfc822".into();
                d.body = build_message(self.smtp()?, &email)?;
                self.enqueue(d).await
            }
            EndpointKind::Gateway => Err(Error::config(
                "endpoint",
                "gateway endpoints are dialled by the queue",
            )),
        }
    }

    /// Delivers a received fax to the `webhook` and `email` endpoints of its number (else of
    /// its tenant), the best priority of each type; 666 is never delivered to.
    pub async fn deliver_received(&self, tenant: TenantId, job: JobId) -> Result<Vec<DeliveryId>> {
        let f = self.job_facts(tenant, job).await?;
        let endpoints = self.store.list_endpoints(Some(tenant)).await?;
        let number = self
            .number(&f.job.callee)
            .await?
            .filter(|n| n.tenant_id == tenant);
        let targets = received_targets(&endpoints, number.as_ref(), tenant);
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let doc = self.document(&f).await?;
        let pdf = fax_pdf(&doc).await?;
        let mut out = Vec::new();
        for ep in targets {
            out.push(self.deliver_fax_pdf(&f, &doc, &pdf, ep).await?);
        }
        Ok(out)
    }

    /// gofaxserver's notifications once a job has ended: the notify strings of the sending
    /// and the receiving tenant (the number's, else the tenant's).
    pub async fn job_finished(&self, tenant: TenantId, job: JobId) -> Result<Vec<DeliveryId>> {
        let f = self.job_facts(tenant, job).await?;
        let mut specs = Vec::new();
        for (side, number) in [
            (f.src_tenant_id, &f.job.caller),
            (f.dst_tenant_id, &f.job.callee),
        ] {
            if side == 0 {
                continue;
            }
            let n = self.number(number).await?;
            let own = n.filter(|n| n.tenant_id.0 == side && !n.notify.trim().is_empty());
            let spec = match own {
                Some(n) => n.notify,
                None => match self.store.get_tenant(TenantId(side)).await? {
                    Some(t) => t.notify,
                    None => continue,
                },
            };
            specs.push((TenantId(side), spec));
        }
        let all_failed = f.all_attempts_failed();
        let mut seen = BTreeSet::new();
        let mut wanted = Vec::new();
        for (side, spec) in specs {
            let parsed = parse_notify(&spec);
            for bad in &parsed.rejected {
                tracing::warn!(tenant_id = %side, segment = %bad, job_id = %job, "notify segment ignored");
            }
            for t in parsed.targets {
                if t.kind.applies(all_failed)
                    && seen.insert((t.kind.as_str(), t.destination.clone()))
                {
                    wanted.push((side, t));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let report = report_pdf(&f, "gateway");
        let mut doc: Option<Document> = None;
        let mut out = Vec::new();
        for (side, t) in wanted {
            let mut d = self.delivery(side, Some(job), Channel::Webhook);
            d.event = t.kind.as_str().into();
            match t.kind {
                NotifyKind::Webhook => {
                    d.target = t.destination;
                    d.body = notify_webhook_body(&f, &report);
                }
                NotifyKind::WebhookForm => {
                    if doc.is_none() {
                        doc = Some(self.document(&f).await?);
                    }
                    let first =
                        first_page_pdf(doc.as_ref().ok_or(Error::NotFound("document"))?).await?;
                    let (ct, body) = notify_form(&f, &first);
                    d.target = t.destination;
                    d.content_type = ct;
                    d.body = body;
                }
                NotifyKind::EmailReport | NotifyKind::EmailFull | NotifyKind::EmailFullFailure => {
                    let report_file = Attachment {
                        filename: format!("notify_{}.pdf", job.0),
                        content_type: "application/pdf".into(),
                        data: report.clone(),
                    };
                    let email = if t.kind == NotifyKind::EmailReport {
                        Email {
                            to: split_addresses(&t.destination),
                            subject: "Fax Report".into(),
                            text: "Please find the attached fax report.".into(),
                            attachments: vec![report_file],
                        }
                    } else {
                        if doc.is_none() {
                            doc = Some(self.document(&f).await?);
                        }
                        let pdf = fax_pdf(doc.as_ref().ok_or(Error::NotFound("document"))?).await?;
                        Email {
                            to: split_addresses(&t.destination),
                            subject: "Full Fax Report".into(),
                            text: "Please find the attached fax report & original fax.".into(),
                            attachments: vec![
                                report_file,
                                Attachment {
                                    filename: format!("fax_{}.pdf", job.0),
                                    content_type: "application/pdf".into(),
                                    data: pdf,
                                },
                            ],
                        }
                    };
                    d.channel = Channel::Email;
                    d.target = email.to.join(";");
                    d.content_type = "message/rfc822".into();
                    d.body = build_message(self.smtp()?, &email)?;
                }
                NotifyKind::Gateway => continue,
            }
            out.push(self.enqueue(d).await?);
        }
        Ok(out)
    }
}

/// The endpoints a received fax goes to: the number's deliverable endpoints, else the
/// tenant's (as gofaxserver picks them), then of the `webhook` and `email` ones, those of
/// the best priority of each type.
pub fn received_targets<'a>(
    endpoints: &'a [Endpoint],
    number: Option<&TenantNumber>,
    tenant: TenantId,
) -> Vec<&'a Endpoint> {
    let deliverable = |scope: Scope, id: i64| -> Vec<&'a Endpoint> {
        endpoints
            .iter()
            .filter(|e| e.scope == scope && e.scope_id == id && e.is_deliverable())
            .collect()
    };
    let mut chosen = number.map_or_else(Vec::new, |n| deliverable(Scope::Number, n.id.0));
    if chosen.is_empty() {
        chosen = deliverable(Scope::Tenant, tenant.0);
    }
    let mut out = Vec::new();
    for kind in [EndpointKind::Webhook, EndpointKind::Email] {
        let of_kind: Vec<&Endpoint> = chosen
            .iter()
            .copied()
            .filter(|e| e.endpoint_type == kind)
            .collect();
        if let Some(best) = of_kind.iter().map(|e| e.delivery_order()).min() {
            out.extend(of_kind.into_iter().filter(|e| e.delivery_order() == best));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{EndpointId, NumberId};

    fn ep(id: i64, scope: Scope, scope_id: i64, kind: EndpointKind, priority: i64) -> Endpoint {
        Endpoint {
            id: EndpointId(id),
            tenant_id: Some(TenantId(1)),
            scope,
            scope_id,
            endpoint_type: kind,
            target: format!("t{id}"),
            priority,
            bridge: false,
        }
    }

    #[test]
    fn received_faxes_go_to_the_numbers_endpoints_else_the_tenants() {
        let n = TenantNumber {
            id: NumberId(5),
            tenant_id: TenantId(1),
            number: "+12125550100".into(),
            name: String::new(),
            header: String::new(),
            notify: String::new(),
        };
        let all = vec![
            ep(1, Scope::Tenant, 1, EndpointKind::Email, 1),
            ep(2, Scope::Number, 5, EndpointKind::Webhook, 999),
            ep(3, Scope::Number, 5, EndpointKind::Webhook, 2),
            ep(4, Scope::Number, 5, EndpointKind::Email, 666),
            ep(5, Scope::Number, 5, EndpointKind::Gateway, 1),
            ep(6, Scope::Number, 5, EndpointKind::Webhook, 2),
        ];
        let ids = |v: Vec<&Endpoint>| v.iter().map(|e| e.id.0).collect::<Vec<_>>();
        assert_eq!(
            ids(received_targets(&all, Some(&n), TenantId(1))),
            vec![3, 6]
        );
        assert_eq!(ids(received_targets(&all, None, TenantId(1))), vec![1]);
        let only_never = vec![
            ep(4, Scope::Number, 5, EndpointKind::Email, 666),
            ep(1, Scope::Tenant, 1, EndpointKind::Email, 1),
        ];
        assert_eq!(
            ids(received_targets(&only_never, Some(&n), TenantId(1))),
            vec![1]
        );
    }
}
