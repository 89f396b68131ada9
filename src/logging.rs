//! Log output: human-readable lines by default, one JSON object per line when
//! `FAXSERVER_LOG_FORMAT=json` (for log shippers). The filter comes from `FAXSERVER_LOG`, else
//! `RUST_LOG`, else a default that depends on the command.
//!
//! Lines logged inside a call carry its `call_id` (SIP Call-ID) and `job_id` through the
//! spans the queue opens (engine/src/queue/{worker,inbound}.rs); in JSON they appear in the
//! `span` object. Phone numbers are logged at debug level only.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, with the current span's fields.
    Json,
}

impl Format {
    /// Reads a `FAXSERVER_LOG_FORMAT` value; `None` for an unknown one.
    pub fn parse(value: &str) -> Option<Format> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" | "plain" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Installs the global subscriber. `default_filter` applies when neither `FAXSERVER_LOG`
/// nor `RUST_LOG` is set. A bad format name falls back to text with a warning, so a typo
/// never silences the server.
pub fn init(default_filter: &str) {
    let filter = std::env::var("FAXSERVER_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter));
    let asked = std::env::var("FAXSERVER_LOG_FORMAT").unwrap_or_default();
    let format = Format::parse(&asked);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format.unwrap_or(Format::Text) {
        Format::Text => builder.init(),
        Format::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    if format.is_none() {
        tracing::warn!(value = %asked, "FAXSERVER_LOG_FORMAT must be `text` or `json`; using text");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse(" JSON "), Some(Format::Json));
        assert_eq!(Format::parse(""), Some(Format::Text));
        assert_eq!(Format::parse("text"), Some(Format::Text));
        assert_eq!(Format::parse("xml"), None);
    }
}
