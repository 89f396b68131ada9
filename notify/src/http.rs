//! One webhook POST, and what its answer means for the delivery.
//!
//! gofaxserver's rules (`gofaxserver-behaviour.md` §5.3) decide: 2xx is delivered; no answer,
//! 408, 429 and 5xx are worth another try; any other answer (3xx, 4xx) is a refusal that
//! retrying will not change. Redirects are not followed, as there, so that a body with a fax
//! in it never travels to an address the endpoint did not name.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};

/// What follows an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted.
    Delivered,
    /// Try again later.
    Retry,
    /// Refused for good.
    GiveUp,
}

/// The verdict on an HTTP status (`None`: no answer at all).
pub fn classify(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        None | Some(408) | Some(429) | Some(500..=599) => Verdict::Retry,
        Some(_) => Verdict::GiveUp,
    }
}

/// How one POST ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutcome {
    /// The status, when an answer came.
    pub status: Option<u16>,
    /// What went wrong, empty on a 2xx.
    pub error: String,
}

/// An HTTP client for webhooks.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    client: reqwest::Client,
}

/// At most this much of an error answer is kept in the log.
const ERROR_BODY_LIMIT: usize = 1024;

impl WebhookClient {
    /// A client whose every request ends within `timeout`.
    pub fn new(timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("faxserver/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Http(e.to_string()))?;
        Ok(WebhookClient { client })
    }

    /// POSTs `body` to `url` with `headers`.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &BTreeMap<String, String>,
        body: Vec<u8>,
    ) -> HttpOutcome {
        let mut req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.body(body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if resp.status().is_success() {
                    return HttpOutcome {
                        status: Some(status),
                        error: String::new(),
                    };
                }
                let text = resp.text().await.unwrap_or_default();
                let mut snippet: String = text.chars().take(ERROR_BODY_LIMIT).collect();
                if snippet.len() < text.len() {
                    snippet.push('…');
                }
                HttpOutcome {
                    status: Some(status),
                    error: format!("HTTP {status}: {}", snippet.trim()),
                }
            }
            // Without the URL: it may carry a token in its query.
            Err(e) => HttpOutcome {
                status: None,
                error: describe(&e),
            },
        }
    }
}

/// A transport error in words, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_builder() {
        "invalid request"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gofaxserver_classification() {
        for (status, verdict) in [
            (Some(200), Verdict::Delivered),
            (Some(204), Verdict::Delivered),
            (None, Verdict::Retry),
            (Some(408), Verdict::Retry),
            (Some(429), Verdict::Retry),
            (Some(500), Verdict::Retry),
            (Some(503), Verdict::Retry),
            (Some(301), Verdict::GiveUp),
            (Some(400), Verdict::GiveUp),
            (Some(404), Verdict::GiveUp),
            (Some(410), Verdict::GiveUp),
        ] {
            assert_eq!(classify(status), verdict, "{status:?}");
        }
    }
}
