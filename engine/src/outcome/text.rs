//! Operator-readable reasons for classified outcomes.

use super::{t30, AttemptFacts, OutcomeClass, Q850};

/// The reason line for an outcome, e.g. "Busy (SIP 486, Q.850 cause 17)".
pub(super) fn reason(f: &AttemptFacts, class: OutcomeClass, q850: Option<&Q850>) -> String {
    use OutcomeClass as C;
    let sip = sip_detail(f, q850);
    let t30 = t30_detail(f);
    match class {
        C::Success => format!("Success: {}", pages(f)),
        C::Partial { .. } => format!("Partial: {} before {t30}", pages(f)),
        C::Busy => format!("Busy{sip}"),
        C::NoAnswer if f.ring_timeout && f.sip_status.is_none_or(|s| s == 487) => {
            "No answer: our ring timer expired and we cancelled the call".to_owned()
        }
        C::NoAnswer => format!("No answer{sip}"),
        C::Rejected => format!("Rejected{sip}"),
        C::NotFound => format!("Number not found{sip}"),
        C::Unreachable if f.sip_status.is_some() => {
            format!("Unreachable{sip}{}", retry_after(f))
        }
        C::Unreachable if f.transport_timeout => format!(
            "Unreachable: no response from the gateway (SIP timeout){}",
            retry_after(f)
        ),
        C::Unreachable => "Unreachable: the call ended without a final response".to_owned(),
        C::NoCommonMedia if f.offered_only_g711 => {
            format!("No common media{sip}: the gateway refused G.711")
        }
        C::NoCommonMedia => format!("No common media{sip}: redial offering G.711 only"),
        C::NotAFax => match f.t30_code {
            Some(c) if t30::is_no_fax(c) => format!(
                "No fax tones: the far end answered but is not a fax machine ({})",
                if c == t30::T1_EXPIRED {
                    "T.30 T1 expired"
                } else {
                    "T.30 T0 expired"
                }
            ),
            _ => "No fax tones: the far end answered but is not a fax machine".to_owned(),
        },
        C::FaxFailed => format!("Fax failed: {t30}"),
        C::DocumentError => format!("Document error: {t30}"),
    }
}

/// " (SIP 486, Q.850 cause 17)", " (SIP 503)", " (Q.850 cause 17)" or "".
fn sip_detail(f: &AttemptFacts, q850: Option<&Q850>) -> String {
    let parts: Vec<String> = f
        .sip_status
        .map(|s| format!("SIP {s}"))
        .into_iter()
        .chain(q850.map(|q| format!("Q.850 cause {}", q.cause)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn t30_detail(f: &AttemptFacts) -> String {
    match (f.t30_code, f.t30_text.trim()) {
        (Some(c), "") => format!("T.30 error {c}"),
        (Some(c), text) => format!("T.30 error {c} ({text})"),
        (None, _) => "the call ended before the fax finished".to_owned(),
    }
}

fn pages(f: &AttemptFacts) -> String {
    let n = f.pages_transferred;
    let counted = if f.pages_total > 0 { f.pages_total } else { n };
    let noun = if counted == 1 { "page" } else { "pages" };
    if f.pages_total > 0 {
        format!("{n} of {} {noun} transferred", f.pages_total)
    } else {
        format!("{n} {noun} transferred")
    }
}

fn retry_after(f: &AttemptFacts) -> String {
    f.retry_after
        .map(|s| format!(", retry after {s} s"))
        .unwrap_or_default()
}
