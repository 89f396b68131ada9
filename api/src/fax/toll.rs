//! The toll-fraud guard on `/fax/send`: the destination rules and the daily caps of
//! `store::dialing`, checked before anything is converted or queued.
//!
//! The count and the submission are not one transaction, so requests racing at the cap can
//! overshoot it by the number that race; the cap limits damage, it is not billing.

use chrono::{DateTime, Utc};
use store::dialing::{check, check_caps, day_start, until_next_day, CapExceeded};
use store::{DailyUsage, DialingSettings, TenantId, E164};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// What the first check learnt, for the page check after conversion.
pub(super) struct Admitted {
    settings: DialingSettings,
    usage: DailyUsage,
}

/// Checks the destination and that one more fax (of at least one page) fits today's caps.
pub(super) async fn admit(
    st: &AppState,
    tenant: TenantId,
    callee: &E164,
    now: DateTime<Utc>,
) -> ApiResult<Admitted> {
    let settings = st
        .store
        .get_dialing(tenant)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    check(&settings.rules(), callee).map_err(|r| {
        tracing::warn!(tenant = %tenant, refusal = %r, "destination blocked");
        ApiError::DestinationBlocked(r.to_string())
    })?;
    let usage = st
        .store
        .outbound_usage_since(tenant, day_start(now))
        .await?;
    let admitted = Admitted { settings, usage };
    admitted.pages(1, now)?;
    Ok(admitted)
}

impl Admitted {
    /// Checks that a document of `pages` pages fits today's page cap.
    pub(super) fn pages(&self, pages: i64, now: DateTime<Utc>) -> ApiResult<()> {
        check_caps(&self.settings, self.usage, pages).map_err(|e| daily_limit(e, now))
    }
}

/// 429 until the next UTC midnight.
fn daily_limit(e: CapExceeded, now: DateTime<Utc>) -> ApiError {
    ApiError::DailyLimit {
        message: format!("{e}; the count starts again at midnight UTC"),
        retry_after: u64::try_from(until_next_day(now).num_seconds())
            .unwrap_or(1)
            .max(1),
    }
}
