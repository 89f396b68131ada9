//! FreeSWITCH hang-up cause names, for gofaxserver's `faxing.failed_response` list.
//!
//! gofaxserver compared the cause of a failed originate with that list (e.g.
//! `UNALLOCATED_NUMBER`, `CALL_REJECTED`) and did not retry those (behaviour §5.5, §14.5). We
//! have no FreeSWITCH, so the cause is named the way FreeSWITCH would have named it: from the
//! Q.850 cause of a `Reason` header (RFC 3326) when there is one, else from the SIP status
//! through mod_sofia's mapping. As in gofaxserver, only calls that were never answered count.

use crate::outcome::Outcome;

/// Q.850 cause values and FreeSWITCH's names for them (switch_types.h).
const Q850_NAMES: &[(u8, &str)] = &[
    (1, "UNALLOCATED_NUMBER"),
    (2, "NO_ROUTE_TRANSIT_NET"),
    (3, "NO_ROUTE_DESTINATION"),
    (6, "CHANNEL_UNACCEPTABLE"),
    (16, "NORMAL_CLEARING"),
    (17, "USER_BUSY"),
    (18, "NO_USER_RESPONSE"),
    (19, "NO_ANSWER"),
    (20, "SUBSCRIBER_ABSENT"),
    (21, "CALL_REJECTED"),
    (22, "NUMBER_CHANGED"),
    (23, "REDIRECTION_TO_NEW_DESTINATION"),
    (25, "EXCHANGE_ROUTING_ERROR"),
    (27, "DESTINATION_OUT_OF_ORDER"),
    (28, "INVALID_NUMBER_FORMAT"),
    (29, "FACILITY_REJECTED"),
    (31, "NORMAL_UNSPECIFIED"),
    (34, "NORMAL_CIRCUIT_CONGESTION"),
    (38, "NETWORK_OUT_OF_ORDER"),
    (41, "NORMAL_TEMPORARY_FAILURE"),
    (42, "SWITCH_CONGESTION"),
    (47, "RESOURCE_UNAVAILABLE"),
    (50, "REQUESTED_CHAN_UNAVAIL"),
    (55, "INCOMING_CALL_BARRED"),
    (57, "BEARERCAPABILITY_NOTAUTH"),
    (58, "BEARERCAPABILITY_NOTAVAIL"),
    (63, "SERVICE_UNAVAILABLE"),
    (65, "BEARERCAPABILITY_NOTIMPL"),
    (79, "SERVICE_NOT_IMPLEMENTED"),
    (81, "INVALID_CALL_REFERENCE"),
    (88, "INCOMPATIBLE_DESTINATION"),
    (95, "INVALID_MSG_UNSPECIFIED"),
    (96, "MANDATORY_IE_MISSING"),
    (102, "RECOVERY_ON_TIMER_EXPIRE"),
    (111, "PROTOCOL_ERROR"),
    (127, "INTERWORKING"),
];

/// FreeSWITCH's name for a Q.850 cause, if it has one.
pub fn q850_name(cause: u8) -> Option<&'static str> {
    Q850_NAMES
        .iter()
        .find(|(c, _)| *c == cause)
        .map(|(_, n)| *n)
}

/// The cause mod_sofia reports for a SIP final status (`sofia_glue_sip_cause_to_freeswitch`).
pub fn sip_status_cause(status: u16) -> &'static str {
    match status {
        200..=299 => "NORMAL_CLEARING",
        401 | 402 | 403 | 407 | 603 | 608 => "CALL_REJECTED",
        404 => "UNALLOCATED_NUMBER",
        485 | 604 => "NO_ROUTE_DESTINATION",
        408 | 504 => "RECOVERY_ON_TIMER_EXPIRE",
        410 => "NUMBER_CHANGED",
        413 | 414 | 416 | 420 | 421 | 423 | 505 | 513 => "INTERWORKING",
        480 => "NO_USER_RESPONSE",
        400 | 481 | 500 | 503 => "NORMAL_TEMPORARY_FAILURE",
        486 | 600 => "USER_BUSY",
        484 => "INVALID_NUMBER_FORMAT",
        488 | 606 => "INCOMPATIBLE_DESTINATION",
        502 => "NETWORK_OUT_OF_ORDER",
        405 => "SERVICE_UNAVAILABLE",
        406 | 415 | 501 => "SERVICE_NOT_IMPLEMENTED",
        482 | 483 => "EXCHANGE_ROUTING_ERROR",
        487 => "ORIGINATOR_CANCEL",
        _ => "NORMAL_UNSPECIFIED",
    }
}

/// The cause FreeSWITCH would have given for an unanswered attempt; `None` for an answered
/// call or one that got no response at all (gofaxserver's list never matched those).
pub fn originate_cause(outcome: &Outcome, answered: bool) -> Option<&'static str> {
    if answered {
        return None;
    }
    if let Some(name) = outcome.q850.as_ref().and_then(|q| q850_name(q.cause)) {
        return Some(name);
    }
    outcome.sip_status.map(sip_status_cause)
}

/// True when `failed_response` names the cause of this unanswered attempt (case-insensitive,
/// as operators write these lists by hand).
pub fn is_listed(failed_response: &[String], outcome: &Outcome, answered: bool) -> bool {
    originate_cause(outcome, answered).is_some_and(|c| {
        failed_response
            .iter()
            .any(|l| l.trim().eq_ignore_ascii_case(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{classify, AttemptFacts};

    fn outcome(status: Option<u16>, reason: Option<&str>) -> Outcome {
        classify(&AttemptFacts {
            sip_status: status,
            reason_headers: reason.into_iter().map(str::to_owned).collect(),
            ..AttemptFacts::default()
        })
    }

    /// SIP status, Reason header, answered, FreeSWITCH cause, listed.
    type Row = (
        Option<u16>,
        Option<&'static str>,
        bool,
        Option<&'static str>,
        bool,
    );

    #[test]
    fn causes_follow_freeswitch_names() {
        let list = vec!["UNALLOCATED_NUMBER".to_owned(), "call_rejected".to_owned()];
        let table: &[Row] = &[
            (Some(404), None, false, Some("UNALLOCATED_NUMBER"), true),
            (Some(603), None, false, Some("CALL_REJECTED"), true),
            (Some(486), None, false, Some("USER_BUSY"), false),
            (
                Some(503),
                None,
                false,
                Some("NORMAL_TEMPORARY_FAILURE"),
                false,
            ),
            // The Q.850 cause of a Reason header beats the SIP status.
            (
                Some(480),
                Some("Q.850;cause=1"),
                false,
                Some("UNALLOCATED_NUMBER"),
                true,
            ),
            (Some(699), None, false, Some("NORMAL_UNSPECIFIED"), false),
            // Answered calls and silent gateways never match, as in gofaxserver.
            (Some(200), None, true, None, false),
            (None, None, false, None, false),
        ];
        for (status, reason, answered, cause, listed) in table {
            let o = outcome(*status, *reason);
            assert_eq!(
                originate_cause(&o, *answered),
                *cause,
                "{status:?} {reason:?}"
            );
            assert_eq!(
                is_listed(&list, &o, *answered),
                *listed,
                "{status:?} {reason:?}"
            );
        }
        assert_eq!(q850_name(200), None);
    }
}
