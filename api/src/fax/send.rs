//! `POST /fax/send`: gofaxserver's multipart upload (`file`, `caller_number`,
//! `callee_number`), answered 202 once the document and the job are committed.
//!
//! Order matters: cheap checks first and nothing expensive for a request that cannot
//! succeed. Numbers are normalised, a repeated `Idempotency-Key` is answered from the store,
//! the sender number must be the caller's tenant's (gofaxserver converted first, then
//! panicked on a foreign number), the format is sniffed from the bytes, and only then does
//! the CPU-bound conversion run, off the async executor. The toll-fraud guard (`toll`)
//! refuses blocked destinations and faxes past the tenant's daily caps before conversion,
//! and re-checks the page cap once the page count is known; nothing is queued when it says no.

use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::documents::{sniff_format, to_fax_tiff, DocumentError, FaxDocument};
use serde_json::json;
use sha2::{Digest, Sha256};
use store::{
    Direction, IdempotencyKey, Job, NewDocument, NewEvent, NewIdempotencyKey, NewJob, NumberRules,
    Submission, TenantId, E164,
};

use super::views::{status_name, Accepted};
use super::{cpu_bound, FaxSettings};
use crate::error::{ApiError, ApiResult};
use crate::{AppState, TenantAuth};

/// The request header carrying the client's idempotency key.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer that repeats the first one for the same key.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Longest accepted idempotency key (UUIDs and the usual random tokens fit easily).
const MAX_KEY_LEN: usize = 255;

/// The fields of the upload.
struct Upload {
    file: Vec<u8>,
    caller: String,
    callee: String,
}

/// `POST /fax/send`.
pub(crate) async fn send(
    me: TenantAuth,
    State(st): State<AppState>,
    bus: Option<axum::Extension<engine::events::EventBus>>,
    headers: HeaderMap,
    body: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let upload = read_upload(body.map_err(|e| ApiError::BadRequest(e.body_text()))?).await?;
    let rules = NumberRules::nanp();
    let caller = rules.normalize(&upload.caller)?;
    let callee = rules.normalize(&upload.callee)?;
    let now = st.fax.clock.now();
    let expired_before = now - st.fax.idempotency_window;
    let hash = request_hash(&caller, &callee, &upload.file);

    if let Some(k) = &key {
        if let Some(first) = st
            .store
            .get_idempotency_key(me.tenant_id, k, expired_before)
            .await?
        {
            return replay(&st, me.tenant_id, first, &hash).await;
        }
    }
    // Before any conversion: only the tenant's own numbers may send.
    match st.store.find_number(&caller).await? {
        Some(n) if n.tenant_id == me.tenant_id => {}
        _ => return Err(ApiError::NotFound("caller number")),
    }
    // Toll-fraud guard, also before any conversion; the page cap needs the page count.
    let admitted = super::toll::admit(&st, me.tenant_id, &callee, now).await?;
    sniff_format(&upload.file).map_err(document_error)?;
    let doc = convert(&st.fax, upload.file).await?;

    let pages = i64::from(doc.pages);
    admitted.pages(pages, now)?;
    let new_doc = NewDocument {
        tenant_id: me.tenant_id,
        content_type: "image/tiff".into(),
        pages,
        data: doc.tiff,
    };
    let job = NewJob {
        tenant_id: me.tenant_id,
        direction: Direction::Outbound,
        caller: caller.to_string(),
        callee: callee.to_string(),
        document_id: None,
        priority: 0,
        not_before: now,
    };
    let new_key = key.map(|key| NewIdempotencyKey {
        key,
        request_hash: hash.to_vec(),
        expired_before,
    });
    match st
        .store
        .submit_job(&new_doc, &job, new_key.as_ref(), now)
        .await?
    {
        Submission::Created(job) => {
            audit(&st, &me, &job, pages).await;
            // After the commit, so that a listener told of the job finds it.
            if let Some(axum::Extension(bus)) = &bus {
                bus.publish(engine::events::EngineEvent::JobQueued {
                    job_uuid: job.id.to_string(),
                    tenant_id: me.tenant_id.0,
                });
            }
            tracing::info!(job_id = %job.id, tenant = %me.tenant_id, pages, "fax queued");
            tracing::debug!(job_id = %job.id, caller = %job.caller, callee = %job.callee, "fax numbers");
            Ok(accepted(&job, Some(pages), false))
        }
        // Another request with the same key committed while this one converted.
        Submission::KeyInUse(first) => replay(&st, me.tenant_id, first, &hash).await,
    }
}

/// The `Idempotency-Key` header, if present: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default().trim();
    let visible = key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if key.is_empty() || key.len() > MAX_KEY_LEN || !visible {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// Reads the multipart fields; unknown fields are skipped, as gofaxserver did.
async fn read_upload(mut body: Multipart) -> ApiResult<Upload> {
    let (mut file, mut caller, mut callee) = (None, None, None);
    while let Some(field) = body.next_field().await.map_err(multipart_error)? {
        let slot = match field.name() {
            Some("file") => {
                if file.is_some() {
                    return Err(ApiError::BadRequest("send exactly one file part".into()));
                }
                file = Some(field.bytes().await.map_err(multipart_error)?.to_vec());
                continue;
            }
            Some("caller_number") => &mut caller,
            Some("callee_number") => &mut callee,
            _ => {
                field.bytes().await.map_err(multipart_error)?;
                continue;
            }
        };
        *slot = Some(field.text().await.map_err(multipart_error)?);
    }
    let missing = |name: &str| ApiError::BadRequest(format!("missing multipart field `{name}`"));
    Ok(Upload {
        file: file.ok_or_else(|| missing("file"))?,
        caller: caller.ok_or_else(|| missing("caller_number"))?,
        callee: callee.ok_or_else(|| missing("callee_number"))?,
    })
}

/// A body over the limit is 413; anything else wrong with the framing is 400.
fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// SHA-256 over what makes two submissions the same: the normalised numbers and the file.
fn request_hash(caller: &E164, callee: &E164, file: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    // E.164 numbers hold no NUL, so the fields cannot run into each other.
    for part in [
        b"fax/send v1".as_slice(),
        caller.as_str().as_bytes(),
        callee.as_str().as_bytes(),
    ] {
        h.update(part);
        h.update([0]);
    }
    h.update(file);
    h.finalize().into()
}

/// Converts the upload to TIFF-F on the blocking pool.
async fn convert(settings: &FaxSettings, file: Vec<u8>) -> ApiResult<FaxDocument> {
    let options = settings.convert.clone();
    cpu_bound(settings, move || to_fax_tiff(&file, &options))
        .await?
        .map_err(document_error)
}

/// Maps a conversion failure to what the submitter can act on.
fn document_error(e: DocumentError) -> ApiError {
    let text = e.to_string();
    match e {
        DocumentError::NotSupported(_) | DocumentError::NotAPdf => {
            ApiError::UnsupportedDocument(text)
        }
        DocumentError::TooManyPages { .. } => ApiError::TooManyPages(text),
        DocumentError::TooLarge { .. } => ApiError::PayloadTooLarge,
        DocumentError::ImageTooLarge { .. } => ApiError::ImageTooLarge(text),
        DocumentError::Timeout(_) => ApiError::ConversionTimeout(text),
        DocumentError::CorruptPdf(_)
        | DocumentError::Encrypted
        | DocumentError::ZeroPages
        | DocumentError::CorruptImage(_)
        | DocumentError::BadTiff(_)
        | DocumentError::NotFaxTiff(_) => ApiError::InvalidDocument(text),
        DocumentError::ConverterFailed(_) | DocumentError::Io(_) => {
            tracing::error!(error = %text, "document conversion failed");
            ApiError::Internal
        }
    }
}

/// Answers a repeated key: the first job if the request is the same, 422 if it is not.
async fn replay(
    st: &AppState,
    tenant: TenantId,
    first: IdempotencyKey,
    hash: &[u8; 32],
) -> ApiResult<Response> {
    if first.request_hash != hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    // The key is deleted with its job, so a key without a job is a race with a deletion.
    let job = st
        .store
        .get_job(tenant, first.job_id)
        .await?
        .ok_or(ApiError::NotFound("job"))?;
    let pages = match job.document_id {
        Some(d) => st
            .store
            .get_document_info(tenant, d)
            .await?
            .map(|i| i.pages),
        None => None,
    };
    Ok(accepted(&job, pages, true))
}

/// 202 with gofaxserver's keys and where to follow the job.
fn accepted(job: &Job, pages: Option<i64>, replayed: bool) -> Response {
    let body = Accepted {
        message: "fax enqueued",
        job_uuid: job.id.0,
        status: status_name(job),
        pages,
    };
    let mut resp = (StatusCode::ACCEPTED, Json(body)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/fax/{}", job.id)) {
        h.insert(header::LOCATION, v);
    }
    if replayed {
        h.insert(REPLAYED, HeaderValue::from_static("true"));
    }
    resp
}

/// Records the submission in the event log; the job is committed already, so a failure
/// here is logged rather than answered.
async fn audit(st: &AppState, me: &TenantAuth, job: &Job, pages: i64) {
    let event = NewEvent {
        at: job.created_at,
        tenant_id: Some(me.tenant_id),
        job_id: Some(job.id),
        kind: "job.queued".into(),
        detail: json!({ "source": "api", "user_id": me.user_id, "pages": pages }),
    };
    if let Err(e) = st.store.append_event(&event).await {
        tracing::warn!(job_id = %job.id, error = %e, "could not log job.queued");
    }
}
