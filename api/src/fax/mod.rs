//! The tenant's faxes under `/fax`.
//!
//! `POST /fax/send` and `GET /fax/status?uuid=` keep gofaxserver's multipart fields, JSON keys
//! and shapes (`gofaxserver-behaviour.md` §3.2, §3.6) with the fixes of `design.md` §6: TIFF,
//! PNG and JPEG are accepted (sniffed from the bytes), the sender number is checked before any
//! conversion, and status is scoped to the tenant. New: `GET /fax` (listing), `GET
//! /fax/{uuid}` (status with attempts and pages), `GET /fax/{uuid}/document`, cancel and the
//! debug bundles (`GET /fax/{uuid}/debug`).
//!
//! Every read goes through the store's tenant-scoped calls, so another tenant's job answers
//! exactly like one that does not exist.

pub(crate) mod debug;
mod document;
mod list;
mod send;
mod status;
mod toll;
mod views;

use std::fmt;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use engine::documents::ConvertOptions;
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Where "now" comes from; tests replace it to step over the idempotency window.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that asks `now`.
    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Limits, conversion and clock of the `/fax` routes.
#[derive(Clone, Debug)]
pub struct FaxSettings {
    /// Largest accepted `/fax/send` body in bytes, multipart framing included (413 above).
    pub max_upload_bytes: usize,
    /// How uploads become TIFF-F, with the page, pixel and time limits (413 above the pages).
    pub convert: ConvertOptions,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_window: TimeDelta,
    /// Conversions (Ghostscript, image decoding, PDF output) that may run at once; more wait.
    pub conversions: Arc<Semaphore>,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for FaxSettings {
    fn default() -> Self {
        const MAX_UPLOAD: usize = 25 * 1024 * 1024;
        let mut convert = ConvertOptions::default();
        convert.limits.max_bytes = MAX_UPLOAD as u64;
        // Conversion is CPU-bound: more at once than cores only adds latency to each.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        FaxSettings {
            max_upload_bytes: MAX_UPLOAD,
            convert,
            idempotency_window: TimeDelta::hours(24),
            conversions: Arc::new(Semaphore::new(cores)),
            clock: Clock::system(),
        }
    }
}

/// The `/fax` routes; the upload limit applies to `/fax/send` only.
pub(crate) fn routes(settings: &FaxSettings) -> Router<AppState> {
    Router::new()
        .route("/", get(list::list))
        .route(
            "/send",
            post(send::send).layer(DefaultBodyLimit::max(settings.max_upload_bytes)),
        )
        .route("/status", get(status::gofax_status))
        .route("/{uuid}", get(status::get).delete(status::cancel))
        .route("/{uuid}/cancel", post(status::cancel))
        .route("/{uuid}/document", get(document::get))
        .merge(debug::routes())
}

/// Runs CPU-bound work on the blocking pool, at most [`FaxSettings::conversions`] at once.
///
/// The permit moves into the task, so work whose request was dropped still counts until it
/// really ends.
async fn cpu_bound<T: Send + 'static>(
    settings: &FaxSettings,
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    let permit = settings
        .conversions
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::NotReady)?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "conversion task failed");
        ApiError::Internal
    })
}
