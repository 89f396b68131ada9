//! `GET /fax/{uuid}/document`: the job's fax document as PDF (the default) or as the stored
//! TIFF-F (`?format=tiff`, or an `Accept` header that prefers `image/tiff`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::documents::fax_tiff_to_pdf;
use serde::Deserialize;
use uuid::Uuid;

use super::cpu_bound;
use super::status::job_of;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::{AppState, TenantAuth};

const PDF: &str = "application/pdf";
const TIFF: &str = "image/tiff";

/// Query of the document route.
#[derive(Debug, Deserialize)]
pub(crate) struct DocumentQuery {
    format: Option<String>,
}

/// The two forms a document is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pdf,
    Tiff,
}

/// `GET /fax/{uuid}/document`.
pub(crate) async fn get(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DocumentQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let format = match q.format.as_deref() {
        Some("pdf") => Format::Pdf,
        Some("tiff" | "tif") => Format::Tiff,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown format {other:?}: use pdf or tiff"
            )))
        }
        None => negotiate(headers.get(header::ACCEPT)),
    };
    let job = job_of(st.store.as_ref(), me.tenant_id, id).await?;
    let doc = match job.document_id {
        Some(d) => st.store.get_document(me.tenant_id, d).await?,
        None => None,
    }
    // Retention may have removed it, or an inbound job has not received it yet.
    .ok_or(ApiError::NotFound("document"))?;

    let (bytes, content_type, ext) = match format {
        Format::Tiff => (doc.data, TIFF, "tif"),
        Format::Pdf => {
            let tiff = doc.data;
            let pdf = cpu_bound(&st.fax, move || fax_tiff_to_pdf(&tiff))
                .await?
                .map_err(|e| {
                    // We wrote the TIFF ourselves, so this is our fault, not the client's.
                    tracing::error!(job_id = %job.id, error = %e, "stored document does not convert to PDF");
                    ApiError::Internal
                })?;
            (pdf, PDF, "pdf")
        }
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"fax-{}.{ext}\"", job.id)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept"));
    Ok(resp)
}

/// TIFF when `Accept` ranks `image/tiff` above `application/pdf`, else PDF (also for an
/// `Accept` naming neither: a document is better than a 406 here).
fn negotiate(accept: Option<&HeaderValue>) -> Format {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Format::Pdf;
    };
    if quality(accept, TIFF) > quality(accept, PDF) {
        Format::Tiff
    } else {
        Format::Pdf
    }
}

/// The q-value `accept` gives `mime` (RFC 9110 §12.5.1): the most specific matching range
/// wins; no match is 0.
fn quality(accept: &str, mime: &str) -> f32 {
    let (kind, _) = mime.split_once('/').unwrap_or((mime, ""));
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let specificity = if media == mime {
            3
        } else if media.strip_suffix("/*") == Some(kind) {
            2
        } else if media == "*/*" {
            1
        } else {
            continue;
        };
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let pick = |a: &str| negotiate(Some(&HeaderValue::from_str(a).unwrap()));
        assert_eq!(negotiate(None), Format::Pdf);
        assert_eq!(pick("image/tiff"), Format::Tiff);
        assert_eq!(pick("application/pdf"), Format::Pdf);
        assert_eq!(pick("*/*"), Format::Pdf);
        assert_eq!(pick("text/html"), Format::Pdf);
        assert_eq!(pick("application/pdf;q=0.5, image/tiff"), Format::Tiff);
        assert_eq!(pick("image/tiff;q=0.5, application/pdf"), Format::Pdf);
        assert_eq!(pick("image/*, application/pdf;q=0.9"), Format::Tiff);
        assert_eq!(pick("image/tiff;q=0.2, */*"), Format::Pdf);
        assert_eq!(pick("IMAGE/TIFF"), Format::Tiff);
    }
}
