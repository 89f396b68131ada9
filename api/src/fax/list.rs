//! `GET /fax`: the tenant's faxes, newest first, filtered by `direction`, `status` and a
//! creation-time range (`from` inclusive, `to` exclusive, RFC 3339), `limit` per page (capped)
//! and an opaque `cursor` taken from the previous page's `next_cursor`.
//!
//! Pagination is by keyset, not offset, so a page never repeats or skips a job when new
//! ones arrive. The cursor does not carry the filters: send the same ones with it.

use axum::extract::State;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use store::{Direction, JobCursor, JobFilter, JobId, JobStatus};
use uuid::Uuid;

use super::views::{JobView, Page};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::{AppState, TenantAuth};

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: u32 = 50;
/// Largest page; a larger `limit` is served at this size.
const MAX_LIMIT: u32 = 200;
/// Version tag inside cursors, so their format can change without misreading old ones.
const CURSOR_TAG: &str = "c1";

/// Query of the listing; everything is optional.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    direction: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /fax`.
pub(crate) async fn list(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page>> {
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(ApiError::BadRequest("limit must be at least 1".into())),
        Some(n) => n.min(MAX_LIMIT),
    };
    let filter = filter(&q)?;
    // One more than asked tells whether another page exists without a second query.
    let mut jobs = st
        .store
        .list_jobs_filtered(me.tenant_id, &filter, limit + 1)
        .await?;
    let more = jobs.len() > limit as usize;
    jobs.truncate(limit as usize);
    let next_cursor = match jobs.last() {
        Some(last) if more => Some(encode_cursor(&JobCursor::after(last))),
        _ => None,
    };
    Ok(Json(Page {
        items: jobs.iter().map(JobView::from).collect(),
        next_cursor,
    }))
}

/// The store filter the query asks for.
fn filter(q: &ListQuery) -> ApiResult<JobFilter> {
    let direction = match q.direction.as_deref() {
        None | Some("") => None,
        Some(d) => Some(d.parse::<Direction>().map_err(|_| {
            ApiError::BadRequest(format!("unknown direction {d:?}: use inbound or outbound"))
        })?),
    };
    // Cancelled jobs are failed ones in the store; the API names them apart.
    let (status, cancelled) = match q.status.as_deref() {
        None | Some("") => (None, None),
        Some("cancelled") => (Some(JobStatus::Failed), Some(true)),
        Some("failed") => (Some(JobStatus::Failed), Some(false)),
        Some(s) => {
            let status = s.parse::<JobStatus>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "unknown status {s:?}: use queued, active, done, failed or cancelled"
                ))
            })?;
            (Some(status), None)
        }
    };
    Ok(JobFilter {
        direction,
        status,
        cancelled,
        created_from: time(q.from.as_deref(), "from")?,
        created_before: time(q.to.as_deref(), "to")?,
        after: q.cursor.as_deref().map(decode_cursor).transpose()?,
    })
}

/// An RFC 3339 time parameter.
fn time(value: Option<&str>, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "{name} must be an RFC 3339 time such as 2026-01-31T00:00:00Z"
                ))
            }),
    }
}

/// `c1.<microseconds>.<uuid>`, base64url: opaque to clients, readable to us.
fn encode_cursor(c: &JobCursor) -> String {
    let raw = format!(
        "{CURSOR_TAG}.{}.{}",
        c.created_at.timestamp_micros(),
        c.id.0.simple()
    );
    URL_SAFE_NO_PAD.encode(raw)
}

/// The inverse of [`encode_cursor`]; anything else is [`ApiError::InvalidCursor`].
fn decode_cursor(s: &str) -> ApiResult<JobCursor> {
    let parse = || -> Option<JobCursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let mut parts = raw.split('.');
        if parts.next()? != CURSOR_TAG {
            return None;
        }
        let micros: i64 = parts.next()?.parse().ok()?;
        let id = Uuid::try_parse(parts.next()?).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(JobCursor {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id: JobId(id),
        })
    };
    parse().ok_or(ApiError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = JobCursor {
            created_at: DateTime::from_timestamp_micros(1_767_322_245_123_456).unwrap(),
            id: JobId(Uuid::from_u128(0x0123_4567_89ab_4cde_8f01_2345_6789_abcd)),
        };
        let s = encode_cursor(&c);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode_cursor(&s).unwrap(), c);
        let forged = URL_SAFE_NO_PAD.encode("c2.1.0123456789ab4cde8f0123456789abcd");
        let extra = URL_SAFE_NO_PAD.encode(format!(
            "{}.x",
            String::from_utf8(URL_SAFE_NO_PAD.decode(&s).unwrap()).unwrap()
        ));
        for bad in ["", "!!!", "YWJj", forged.as_str(), extra.as_str()] {
            assert!(
                matches!(decode_cursor(bad), Err(ApiError::InvalidCursor)),
                "{bad}"
            );
        }
    }
}
