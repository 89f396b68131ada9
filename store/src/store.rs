//! The [`Store`] trait: everything above the storage layer reads and writes through it.
//!
//! It is an `async_trait` so that it is object-safe: the server picks PostgreSQL or SQLite at
//! run time and hands out `Arc<dyn Store>`. Every tenant-scoped read takes the tenant id and
//! answers `None` for another tenant's rows, so a handler cannot leak across tenants by
//! forgetting a check. Times are passed in (`now`) rather than read from the clock, so that
//! tests can use a manual clock; they are stored with microsecond precision.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::deliveries::*;
use crate::dialing::{DailyUsage, DialingSettings};
use crate::error::Result;
use crate::fax::*;
use crate::model::*;
use crate::records::*;

/// Storage for faxserver: tenants, numbers, users, tokens, endpoints, gateways, the job queue,
/// attempts, documents, the event log, a key-value store and the delivery log.
#[async_trait]
pub trait Store: Send + Sync {
    // ---- tenants ----
    /// Creates a tenant.
    async fn create_tenant(&self, t: &NewTenant, now: DateTime<Utc>) -> Result<Tenant>;
    /// Reads a tenant.
    async fn get_tenant(&self, id: TenantId) -> Result<Option<Tenant>>;
    /// Lists all tenants by id.
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    /// Replaces a tenant's fields; false if it does not exist.
    async fn update_tenant(&self, id: TenantId, t: &NewTenant) -> Result<bool>;
    /// Deletes a tenant and everything it owns; false if it did not exist.
    async fn delete_tenant(&self, id: TenantId) -> Result<bool>;

    // ---- numbers ----
    /// Adds a number to a tenant; [`crate::Error::Conflict`] if any tenant has it already.
    async fn create_number(&self, tenant: TenantId, n: &NewNumber) -> Result<TenantNumber>;
    /// Reads one of the tenant's numbers.
    async fn get_number(&self, tenant: TenantId, id: NumberId) -> Result<Option<TenantNumber>>;
    /// Finds the owner of an E.164 number, whoever it is (routing).
    async fn find_number(&self, number: &crate::E164) -> Result<Option<TenantNumber>>;
    /// Lists the tenant's numbers.
    async fn list_numbers(&self, tenant: TenantId) -> Result<Vec<TenantNumber>>;
    /// Replaces one of the tenant's numbers; false if not found.
    async fn update_number(&self, tenant: TenantId, id: NumberId, n: &NewNumber) -> Result<bool>;
    /// Deletes one of the tenant's numbers; false if not found.
    async fn delete_number(&self, tenant: TenantId, id: NumberId) -> Result<bool>;

    // ---- users and tokens ----
    /// Creates a user with an argon2id hash of `password`.
    async fn create_user(
        &self,
        tenant: TenantId,
        username: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<User>;
    /// Reads one of the tenant's users.
    async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>>;
    /// Lists the tenant's users.
    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>>;
    /// Renames a user; false if not found.
    async fn rename_user(&self, tenant: TenantId, id: UserId, username: &str) -> Result<bool>;
    /// Sets a user's password; false if not found.
    async fn set_password(&self, tenant: TenantId, id: UserId, password: &str) -> Result<bool>;
    /// Deletes a user and their tokens; false if not found.
    async fn delete_user(&self, tenant: TenantId, id: UserId) -> Result<bool>;
    /// Returns the user if the password matches, in about the same time either way.
    async fn verify_user_password(&self, username: &str, password: &str) -> Result<Option<User>>;
    /// Creates an API token; the plaintext is returned here and never again.
    async fn create_token(
        &self,
        tenant: TenantId,
        user: UserId,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(ApiToken, String)>>;
    /// Finds the user a plaintext token belongs to, by its SHA-256 hash.
    async fn user_by_token(&self, token: &str) -> Result<Option<User>>;
    /// Lists a user's tokens (metadata only).
    async fn list_tokens(&self, tenant: TenantId, user: UserId) -> Result<Vec<ApiToken>>;
    /// Revokes a token; false if not found.
    async fn delete_token(&self, tenant: TenantId, id: TokenId) -> Result<bool>;

    // ---- endpoints ----
    /// Creates an endpoint owned by `owner` (`None` for global scope).
    async fn create_endpoint(&self, owner: Option<TenantId>, e: &NewEndpoint) -> Result<Endpoint>;
    /// Reads an endpoint of `owner` (`None`: a global one).
    async fn get_endpoint(
        &self,
        owner: Option<TenantId>,
        id: EndpointId,
    ) -> Result<Option<Endpoint>>;
    /// Lists the endpoints of `owner` (`None`: the global ones), by id.
    async fn list_endpoints(&self, owner: Option<TenantId>) -> Result<Vec<Endpoint>>;
    /// Replaces an endpoint of `owner`; false if not found.
    async fn update_endpoint(
        &self,
        owner: Option<TenantId>,
        id: EndpointId,
        e: &NewEndpoint,
    ) -> Result<bool>;
    /// Deletes an endpoint of `owner`; false if not found.
    async fn delete_endpoint(&self, owner: Option<TenantId>, id: EndpointId) -> Result<bool>;

    // ---- gateways ----
    /// Creates a SIP gateway.
    async fn create_gateway(&self, g: &NewGateway) -> Result<Gateway>;
    /// Reads a gateway.
    async fn get_gateway(&self, id: GatewayId) -> Result<Option<Gateway>>;
    /// Reads a gateway by its unique name.
    async fn get_gateway_by_name(&self, name: &str) -> Result<Option<Gateway>>;
    /// Lists all gateways by id.
    async fn list_gateways(&self) -> Result<Vec<Gateway>>;
    /// Replaces a gateway; false if not found.
    async fn update_gateway(&self, id: GatewayId, g: &NewGateway) -> Result<bool>;
    /// Deletes a gateway; false if not found.
    async fn delete_gateway(&self, id: GatewayId) -> Result<bool>;

    // ---- documents ----
    /// Stores a document.
    async fn create_document(&self, d: &NewDocument, now: DateTime<Utc>) -> Result<DocumentId>;
    /// Reads one of the tenant's documents, bytes included.
    async fn get_document(&self, tenant: TenantId, id: DocumentId) -> Result<Option<Document>>;
    /// Deletes one of the tenant's documents; false if not found.
    async fn delete_document(&self, tenant: TenantId, id: DocumentId) -> Result<bool>;
    /// Deletes documents created before `cutoff` (retention); returns how many.
    async fn delete_documents_before(&self, cutoff: DateTime<Utc>) -> Result<u64>;

    // ---- jobs and the queue ----
    /// Enqueues a job.
    async fn create_job(&self, j: &NewJob, now: DateTime<Utc>) -> Result<Job>;
    /// Reads one of the tenant's jobs.
    async fn get_job(&self, tenant: TenantId, id: JobId) -> Result<Option<Job>>;
    /// The tenant that owns a job, for administrators, who look across tenants; `None` if
    /// there is no such job.
    async fn job_tenant(&self, id: JobId) -> Result<Option<TenantId>>;
    /// Lists the tenant's jobs, newest first.
    async fn list_jobs(&self, tenant: TenantId, limit: u32) -> Result<Vec<Job>>;
    /// Atomically claims the most urgent runnable job (queued and due, or active with an
    /// expired lease) for `worker` until `now + lease`; no job is ever held by two workers.
    async fn claim_next_job(
        &self,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>>;
    /// Extends `worker`'s unexpired lease to `now + lease`; false if the lease was lost.
    async fn renew_lease(
        &self,
        id: JobId,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Marks a job done; false if `worker` does not hold its lease.
    async fn complete_job(&self, id: JobId, worker: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Requeues or fails a job; false if `worker` does not hold its lease.
    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        failure: &JobFailure,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    // ---- the tenant fax routes ----
    /// Stores a document and enqueues its job in one transaction, so that neither exists
    /// without the other; `job.document_id` is replaced by the new document's id. With a key,
    /// the key is recorded too, unless the tenant used it before (and it has not expired):
    /// then nothing is stored and [`Submission::KeyInUse`] says which job the key made.
    async fn submit_job(
        &self,
        doc: &NewDocument,
        job: &NewJob,
        key: Option<&NewIdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<Submission>;
    /// Reads the tenant's idempotency key unless it was created at or before `expired_before`.
    async fn get_idempotency_key(
        &self,
        tenant: TenantId,
        key: &str,
        expired_before: DateTime<Utc>,
    ) -> Result<Option<IdempotencyKey>>;
    /// Deletes idempotency keys created before `cutoff`; returns how many.
    async fn purge_idempotency_keys(&self, cutoff: DateTime<Utc>) -> Result<u64>;
    /// Cancels one of the tenant's jobs if it is queued (new, or waiting to retry); a job a
    /// worker holds, or one that has ended, is left alone.
    async fn cancel_job(
        &self,
        tenant: TenantId,
        id: JobId,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome>;
    /// Lists the tenant's jobs matching `filter`, newest first (by creation time, then id).
    async fn list_jobs_filtered(
        &self,
        tenant: TenantId,
        filter: &JobFilter,
        limit: u32,
    ) -> Result<Vec<Job>>;
    /// Reads one of the tenant's documents without its bytes.
    async fn get_document_info(
        &self,
        tenant: TenantId,
        id: DocumentId,
    ) -> Result<Option<DocumentInfo>>;

    // ---- attempts and pages ----
    /// Records the start of an attempt.
    async fn start_attempt(&self, a: &NewAttempt) -> Result<Attempt>;
    /// Records how an attempt ended; false if not found.
    async fn finish_attempt(&self, id: AttemptId, o: &AttemptOutcome) -> Result<bool>;
    /// Lists the attempts of one of the tenant's jobs, oldest first.
    async fn list_attempts(&self, tenant: TenantId, job: JobId) -> Result<Vec<Attempt>>;
    /// Records one page's result.
    async fn add_page_result(&self, p: &NewPageResult) -> Result<PageResult>;
    /// Lists an attempt's page results of one of the tenant's jobs, by page.
    async fn list_page_results(
        &self,
        tenant: TenantId,
        attempt: AttemptId,
    ) -> Result<Vec<PageResult>>;

    // ---- event log ----
    /// Appends an event.
    async fn append_event(&self, e: &NewEvent) -> Result<Event>;
    /// Lists events, oldest first, optionally for one tenant and/or one job.
    async fn list_events(
        &self,
        tenant: Option<TenantId>,
        job: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<Event>>;

    // ---- key-value ----
    /// Reads an unexpired entry.
    async fn kv_get(&self, ns: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvEntry>>;
    /// Creates or replaces an entry.
    async fn kv_set(
        &self,
        ns: &str,
        key: &str,
        value: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// Deletes an entry; false if there was none.
    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool>;
    /// Lists unexpired entries of a namespace whose key starts with `prefix`, by key.
    async fn kv_list(&self, ns: &str, prefix: &str, now: DateTime<Utc>) -> Result<Vec<KvEntry>>;
    /// Deletes expired entries; returns how many.
    async fn kv_purge_expired(&self, now: DateTime<Utc>) -> Result<u64>;

    // ---- deliveries (webhooks and e-mails) ----
    /// Enqueues a delivery, due at `d.not_before`.
    async fn create_delivery(&self, d: &NewDelivery, now: DateTime<Utc>) -> Result<Delivery>;
    /// Reads a delivery, of `tenant` only when given (the administrator passes `None`).
    async fn get_delivery(
        &self,
        tenant: Option<TenantId>,
        id: DeliveryId,
    ) -> Result<Option<Delivery>>;
    /// Lists deliveries matching `filter`, newest first.
    async fn list_deliveries(&self, filter: &DeliveryFilter, limit: u32) -> Result<Vec<Delivery>>;
    /// Claims up to `limit` pending deliveries due at `now`, with their bodies, by moving
    /// their due time to `now + lease`: a sender that dies leaves them to be tried again then,
    /// and no other sender picks them meanwhile.
    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<DeliveryToSend>>;
    /// Records a try and what follows it, in one transaction; false if the delivery is gone.
    async fn record_delivery_attempt(
        &self,
        id: DeliveryId,
        a: &NewDeliveryAttempt,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Lists a delivery's tries, oldest first, of `tenant` only when given.
    async fn list_delivery_attempts(
        &self,
        tenant: Option<TenantId>,
        id: DeliveryId,
    ) -> Result<Vec<DeliveryAttempt>>;
    /// Makes a delivery (pending, delivered or failed) pending again, due at `now` in a new
    /// series of tries; `None` if there is no such delivery (of `tenant`, when given).
    async fn replay_delivery(
        &self,
        tenant: Option<TenantId>,
        id: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>>;
    /// The earliest due time of a pending delivery, so that a sender knows how long to sleep.
    async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>>;

    // ---- figures for /metrics ----
    /// Queue depth, jobs in progress and the creation time of the oldest queued job.
    async fn queue_stats(&self) -> Result<crate::stats::QueueStats>;
    /// Failed tries and given-up deliveries, for each channel (webhook, then e-mail).
    async fn delivery_failures(&self) -> Result<Vec<crate::stats::DeliveryFailures>>;

    // ---- webhook secrets ----
    /// Sets (or replaces) the signing secret and event list of a webhook endpoint.
    async fn set_webhook_secret(
        &self,
        endpoint: EndpointId,
        secret: &str,
        events: &[String],
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Reads an endpoint's secret.
    async fn get_webhook_secret(&self, endpoint: EndpointId) -> Result<Option<WebhookSecret>>;
    /// Removes an endpoint's secret (it is then unsigned and gets no lifecycle events).
    async fn delete_webhook_secret(&self, endpoint: EndpointId) -> Result<bool>;

    // ---- toll-fraud guard (see crate::dialing) ----
    /// A tenant's dialing settings (the defaults if never set); `None` if no such tenant.
    async fn get_dialing(&self, tenant: TenantId) -> Result<Option<DialingSettings>>;
    /// Creates or replaces a tenant's dialing settings; false if no such tenant.
    async fn set_dialing(
        &self,
        tenant: TenantId,
        d: &DialingSettings,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Counts the tenant's outbound jobs created at or after `since`, and their pages.
    async fn outbound_usage_since(
        &self,
        tenant: TenantId,
        since: DateTime<Utc>,
    ) -> Result<DailyUsage>;

    // ---- header line time zone (see crate::header_tz) ----
    /// The IANA zone set on a tenant (`number: None`) or one of its numbers for the date in
    /// the header line of the faxes it sends; `None` when unset or there is no such row.
    async fn get_header_tz(
        &self,
        tenant: TenantId,
        number: Option<NumberId>,
    ) -> Result<Option<String>>;
    /// Sets that zone after checking it against the zone database (`""` clears it); false
    /// if there is no such row.
    async fn set_header_tz(
        &self,
        tenant: TenantId,
        number: Option<NumberId>,
        tz: &str,
    ) -> Result<bool>;

    /// The strftime-style format (chrono syntax) set on a tenant or one of its numbers for
    /// the date in the header line; `None` when unset (SpanDSP's own header) or no such row.
    async fn get_header_date_format(
        &self,
        tenant: TenantId,
        number: Option<NumberId>,
    ) -> Result<Option<String>>;
    /// Sets that format after checking it (`""` clears it); false if there is no such row.
    async fn set_header_date_format(
        &self,
        tenant: TenantId,
        number: Option<NumberId>,
        format: &str,
    ) -> Result<bool>;

    // ---- live-bridged calls (issue #6) ----
    /// Records a finished bridged call: an inbound job, done or failed from the start (never
    /// queued), and its bridge row, in one transaction.
    async fn record_bridge(&self, b: &NewBridge) -> Result<Job>;
    /// The bridge row of a tenant's job; `None` for another tenant's job or one not bridged.
    async fn get_bridge(&self, tenant: TenantId, job: JobId) -> Result<Option<BridgeRecord>>;

    // ---- per-call debug bundles (issue #8 item 6, see crate::debug) ----
    /// Stores a call leg's debug bundle; returns its id.
    async fn save_call_debug(&self, d: &crate::debug::NewCallDebug) -> Result<i64>;
    /// Lists a job's bundles without their pcaps, oldest first, of `tenant` only when given
    /// (the administrator passes `None`).
    async fn list_call_debug(
        &self,
        tenant: Option<TenantId>,
        job: JobId,
    ) -> Result<Vec<crate::debug::CallDebugRecord>>;
    /// A bundle's pcap; `None` if there is none, or no such bundle of that job (and tenant).
    async fn get_call_debug_pcap(
        &self,
        tenant: Option<TenantId>,
        job: JobId,
        id: i64,
    ) -> Result<Option<Vec<u8>>>;
    /// Deletes bundles created before `cutoff` (retention); returns how many.
    async fn purge_call_debug_before(&self, cutoff: DateTime<Utc>) -> Result<u64>;
    /// Sets whether a tenant's bundles include a pcap; false if no such tenant.
    async fn set_tenant_debug_pcap(&self, id: TenantId, on: bool) -> Result<bool>;
    /// Sets whether bundles of calls through a gateway include a pcap; false if none.
    async fn set_gateway_debug_pcap(&self, id: GatewayId, on: bool) -> Result<bool>;
}
