//! gofaxserver's notify strings (`gofaxserver-behaviour.md` §9.1): comma-separated
//! `type->destination` segments, e.g. `email_report->ops@example.com;boss@example.com,
//! webhook->https://example.com/fax`.
//!
//! gofaxserver dropped a whole list when one segment had no `->`; here only that segment is
//! dropped, and the caller hears about it, so that one typo does not silence every
//! notification of a tenant.

/// What a notify segment asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyKind {
    /// E-mail with the report PDF.
    EmailReport,
    /// E-mail with the report and the fax.
    EmailFull,
    /// As [`NotifyKind::EmailFull`], only when every attempt failed.
    EmailFullFailure,
    /// JSON POST with the results and the report.
    Webhook,
    /// Multipart POST with the results and the first page.
    WebhookForm,
    /// Accepted and ignored, as gofaxserver does.
    Gateway,
}

impl NotifyKind {
    /// Reads a type name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email_report" => NotifyKind::EmailReport,
            "email_full" => NotifyKind::EmailFull,
            "email_full_failure" => NotifyKind::EmailFullFailure,
            "webhook" => NotifyKind::Webhook,
            "webhook_form" => NotifyKind::WebhookForm,
            "gateway" => NotifyKind::Gateway,
            _ => return None,
        })
    }

    /// The type name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::EmailReport => "email_report",
            NotifyKind::EmailFull => "email_full",
            NotifyKind::EmailFullFailure => "email_full_failure",
            NotifyKind::Webhook => "webhook",
            NotifyKind::WebhookForm => "webhook_form",
            NotifyKind::Gateway => "gateway",
        }
    }

    /// Whether a job whose attempts all failed (or not) is notified this way.
    pub fn applies(self, all_attempts_failed: bool) -> bool {
        match self {
            NotifyKind::EmailFullFailure => all_attempts_failed,
            NotifyKind::Gateway => false,
            _ => true,
        }
    }
}

/// One notification to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    /// How.
    pub kind: NotifyKind,
    /// Where: a URL, or addresses separated by `;`.
    pub destination: String,
}

/// A parsed notify string: the usable targets and the segments that were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifySpec {
    /// Usable targets, in order.
    pub targets: Vec<NotifyTarget>,
    /// Segments skipped (no `->`, unknown type, empty destination).
    pub rejected: Vec<String>,
}

/// Parses a notify string.
pub fn parse_notify(spec: &str) -> NotifySpec {
    let mut out = NotifySpec::default();
    for segment in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = segment.split_once("->").and_then(|(kind, dest)| {
            let dest = dest.trim();
            let kind = NotifyKind::parse(kind.trim())?;
            (!dest.is_empty()).then(|| NotifyTarget {
                kind,
                destination: dest.to_owned(),
            })
        });
        match parsed {
            Some(t) => out.targets.push(t),
            None => out.rejected.push(segment.to_owned()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gofaxserver_strings() {
        let s = parse_notify(
            " email_report->a@x.invalid;b@x.invalid , webhook->https://h.invalid/x?a=1,bogus, fax->1, webhook_form-> ",
        );
        assert_eq!(
            s.targets,
            vec![
                NotifyTarget {
                    kind: NotifyKind::EmailReport,
                    destination: "a@x.invalid;b@x.invalid".into()
                },
                NotifyTarget {
                    kind: NotifyKind::Webhook,
                    destination: "https://h.invalid/x?a=1".into()
                },
            ]
        );
        assert_eq!(s.rejected, vec!["bogus", "fax->1", "webhook_form->"]);
        assert_eq!(parse_notify(""), NotifySpec::default());
    }

    #[test]
    fn failure_only_kinds() {
        assert!(NotifyKind::EmailFullFailure.applies(true));
        assert!(!NotifyKind::EmailFullFailure.applies(false));
        assert!(NotifyKind::EmailFull.applies(false));
        assert!(!NotifyKind::Gateway.applies(true));
        for k in [
            "email_report",
            "email_full",
            "email_full_failure",
            "webhook",
            "webhook_form",
            "gateway",
        ] {
            assert_eq!(NotifyKind::parse(k).map(NotifyKind::as_str), Some(k));
        }
    }
}
