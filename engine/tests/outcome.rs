//! Attempt outcome classification (issue #5 item 4): one table row per way an attempt ends,
//! the `Reason` header parser, and the T.30 codes checked against the SpanDSP we link.

use engine::outcome::{
    classify, parse_reason, q850_cause, t30, AttemptFacts, NextAction, Outcome, OutcomeClass,
    ReasonValue, Q850,
};
use spandsp::CompletionCode;

/// An unanswered attempt that ended with `status`.
fn status(s: u16) -> AttemptFacts {
    AttemptFacts {
        sip_status: Some(s),
        ..AttemptFacts::default()
    }
}

/// An answered attempt with fax tones, ending with T.30 `code` after `pages` of `total`.
fn answered(code: i32, text: &str, pages: u32, total: u32) -> AttemptFacts {
    AttemptFacts {
        sip_status: Some(200),
        answered: true,
        fax_detected: true,
        t30_code: Some(code),
        t30_text: text.to_owned(),
        pages_transferred: pages,
        pages_total: total,
        ..AttemptFacts::default()
    }
}

fn with_reason(mut f: AttemptFacts, reason: &str) -> AttemptFacts {
    f.reason_headers.push(reason.to_owned());
    f
}

struct Row {
    name: &'static str,
    facts: AttemptFacts,
    class: OutcomeClass,
    next: NextAction,
    reason: &'static str,
}

fn row(
    name: &'static str,
    facts: AttemptFacts,
    class: OutcomeClass,
    next: NextAction,
    reason: &'static str,
) -> Row {
    Row {
        name,
        facts,
        class,
        next,
        reason,
    }
}

fn table() -> Vec<Row> {
    use NextAction as N;
    use OutcomeClass as C;
    let dropped = "The call dropped prematurely";
    vec![
        row(
            "success",
            answered(0, "OK", 3, 3),
            C::Success,
            N::Done,
            "Success: 3 of 3 pages transferred",
        ),
        row(
            "success receiving (total unknown)",
            answered(0, "OK", 1, 0),
            C::Success,
            N::Done,
            "Success: 1 page transferred",
        ),
        row(
            "partial: BYE after two of five pages",
            answered(49, dropped, 2, 5),
            C::Partial { sent: 2, total: 5 },
            N::RetryLater,
            "Partial: 2 of 5 pages transferred before T.30 error 49 (The call dropped prematurely)",
        ),
        row(
            "busy 486",
            status(486),
            C::Busy,
            N::RetryLater,
            "Busy (SIP 486)",
        ),
        row(
            "busy everywhere 600",
            status(600),
            C::Busy,
            N::RetryLater,
            "Busy (SIP 600)",
        ),
        row(
            "busy from Q.850 on a 480",
            with_reason(status(480), "Q.850;cause=17;text=\"User busy\""),
            C::Busy,
            N::RetryLater,
            "Busy (SIP 480, Q.850 cause 17)",
        ),
        row(
            "busy from Q.850 on a 503",
            with_reason(status(503), "Q.850;cause=17"),
            C::Busy,
            N::RetryLater,
            "Busy (SIP 503, Q.850 cause 17)",
        ),
        row(
            "no answer: our ring timer, CANCEL, 487",
            AttemptFacts {
                sip_status: Some(487),
                ring_timeout: true,
                ..AttemptFacts::default()
            },
            C::NoAnswer,
            N::RetryLater,
            "No answer: our ring timer expired and we cancelled the call",
        ),
        row(
            "no answer: ring timer, no final response yet",
            AttemptFacts {
                ring_timeout: true,
                ..AttemptFacts::default()
            },
            C::NoAnswer,
            N::RetryLater,
            "No answer: our ring timer expired",
        ),
        row(
            "a 486 that crossed our CANCEL wins over the ring timer",
            AttemptFacts {
                sip_status: Some(486),
                ring_timeout: true,
                ..AttemptFacts::default()
            },
            C::Busy,
            N::RetryLater,
            "Busy (SIP 486)",
        ),
        row(
            "no answer 480",
            status(480),
            C::NoAnswer,
            N::RetryLater,
            "No answer (SIP 480)",
        ),
        row(
            "487 we did not ask for",
            status(487),
            C::NoAnswer,
            N::RetryLater,
            "No answer (SIP 487)",
        ),
        row(
            "no answer from Q.850 19 on a 503",
            with_reason(status(503), "Q.850;cause=19"),
            C::NoAnswer,
            N::RetryLater,
            "No answer (SIP 503, Q.850 cause 19)",
        ),
        row(
            "rejected 403",
            status(403),
            C::Rejected,
            N::GiveUp,
            "Rejected (SIP 403)",
        ),
        row(
            "declined 603",
            status(603),
            C::Rejected,
            N::GiveUp,
            "Rejected (SIP 603)",
        ),
        row(
            "606 without a media warning",
            status(606),
            C::Rejected,
            N::GiveUp,
            "Rejected (SIP 606)",
        ),
        row(
            "rejected from Q.850 21 on a 480",
            with_reason(status(480), "Q.850;cause=21"),
            C::Rejected,
            N::GiveUp,
            "Rejected (SIP 480, Q.850 cause 21)",
        ),
        row(
            "not found 404",
            status(404),
            C::NotFound,
            N::GiveUp,
            "Number not found (SIP 404)",
        ),
        row(
            "gone 410",
            status(410),
            C::NotFound,
            N::GiveUp,
            "Number not found (SIP 410)",
        ),
        row(
            "incomplete 484",
            status(484),
            C::NotFound,
            N::GiveUp,
            "Number not found (SIP 484)",
        ),
        row(
            "does not exist anywhere 604",
            status(604),
            C::NotFound,
            N::GiveUp,
            "Number not found (SIP 604)",
        ),
        row(
            "unallocated from Q.850 1 on a 503",
            with_reason(status(503), "Q.850;cause=1;text=\"Unallocated number\""),
            C::NotFound,
            N::GiveUp,
            "Number not found (SIP 503, Q.850 cause 1)",
        ),
        row(
            "a 404 stays not found whatever the cause says",
            with_reason(status(404), "Q.850;cause=17"),
            C::NotFound,
            N::GiveUp,
            "Number not found (SIP 404, Q.850 cause 17)",
        ),
        row(
            "request timeout 408",
            status(408),
            C::Unreachable,
            N::NextGateway,
            "Unreachable (SIP 408)",
        ),
        row(
            "503 with Retry-After",
            AttemptFacts {
                sip_status: Some(503),
                retry_after: Some(120),
                ..AttemptFacts::default()
            },
            C::Unreachable,
            N::NextGateway,
            "Unreachable (SIP 503), retry after 120 s",
        ),
        row(
            "500",
            status(500),
            C::Unreachable,
            N::NextGateway,
            "Unreachable (SIP 500)",
        ),
        row(
            "503 with a cause that refines nothing (34, no circuit)",
            with_reason(status(503), "Q.850;cause=34"),
            C::Unreachable,
            N::NextGateway,
            "Unreachable (SIP 503, Q.850 cause 34)",
        ),
        row(
            "transaction timeout, no response at all",
            AttemptFacts {
                transport_timeout: true,
                ..AttemptFacts::default()
            },
            C::Unreachable,
            N::NextGateway,
            "Unreachable: no response from the gateway (SIP timeout)",
        ),
        row(
            "proxy auth still refused (407)",
            status(407),
            C::Unreachable,
            N::NextGateway,
            "Unreachable (SIP 407)",
        ),
        row(
            "redirect not followed (302)",
            status(302),
            C::Unreachable,
            N::NextGateway,
            "Unreachable (SIP 302)",
        ),
        row(
            "no common media 488",
            status(488),
            C::NoCommonMedia,
            N::RedialAudioOnly,
            "No common media (SIP 488): redial offering G.711 only",
        ),
        row(
            "unsupported media type 415",
            status(415),
            C::NoCommonMedia,
            N::RedialAudioOnly,
            "No common media (SIP 415)",
        ),
        row(
            "606 with warning 304 (media type not available)",
            AttemptFacts {
                sip_status: Some(606),
                warning_codes: vec![399, 304],
                ..AttemptFacts::default()
            },
            C::NoCommonMedia,
            N::RedialAudioOnly,
            "No common media (SIP 606)",
        ),
        row(
            "488 to an offer that was G.711 only already",
            AttemptFacts {
                sip_status: Some(488),
                offered_only_g711: true,
                ..AttemptFacts::default()
            },
            C::NoCommonMedia,
            N::NextGateway,
            "No common media (SIP 488): the gateway refused G.711",
        ),
        row(
            "not a fax: T.30 T1 expired",
            answered(
                t30::T1_EXPIRED,
                "Timed out waiting for the first message",
                0,
                2,
            ),
            C::NotAFax,
            N::RetryLater,
            "No fax tones: the far end answered but is not a fax machine (T.30 T1 expired)",
        ),
        row(
            "not a fax: T.30 T0 expired",
            answered(
                t30::T0_EXPIRED,
                "Timed out waiting for initial communication",
                0,
                2,
            ),
            C::NotAFax,
            N::RetryLater,
            "(T.30 T0 expired)",
        ),
        row(
            "not a fax: a person answered and hung up",
            AttemptFacts {
                fax_detected: false,
                ..answered(t30::CALL_DROPPED, dropped, 0, 2)
            },
            C::NotAFax,
            N::RetryLater,
            "No fax tones: the far end answered but is not a fax machine",
        ),
        row(
            "not a fax: answered, BYE before the fax session ran",
            AttemptFacts {
                answered: true,
                ..AttemptFacts::default()
            },
            C::NotAFax,
            N::RetryLater,
            "not a fax machine",
        ),
        row(
            "a 200 counts as answered even without the flag",
            AttemptFacts {
                answered: false,
                ..answered(0, "OK", 1, 1)
            },
            C::Success,
            N::Done,
            "Success",
        ),
        row(
            "fax failed: cannot train",
            answered(6, "Failed to train with any of the compatible modems", 0, 1),
            C::FaxFailed,
            N::RetryLater,
            "Fax failed: T.30 error 6 (Failed to train with any of the compatible modems)",
        ),
        row(
            "fax failed: dropped after tones, no page",
            answered(t30::CALL_DROPPED, dropped, 0, 1),
            C::FaxFailed,
            N::RetryLater,
            "Fax failed: T.30 error 49 (The call dropped prematurely)",
        ),
        row(
            "fax failed: tones seen, call ended before T.30 reported",
            AttemptFacts {
                t30_code: None,
                ..answered(0, "", 0, 1)
            },
            C::FaxFailed,
            N::RetryLater,
            "Fax failed: the call ended before the fax finished",
        ),
        row(
            "fax failed: code without text",
            answered(20, "", 0, 1),
            C::FaxFailed,
            N::RetryLater,
            "Fax failed: T.30 error 20",
        ),
        row(
            "document error: TIFF cannot be opened",
            answered(t30::FILE_ERROR, "TIFF/F file cannot be opened", 0, 1),
            C::DocumentError,
            N::GiveUp,
            "Document error: T.30 error 41 (TIFF/F file cannot be opened)",
        ),
        row(
            "document error beats pages already sent",
            answered(t30::NO_MEM, "Cannot allocate memory for more pages", 2, 3),
            C::DocumentError,
            N::GiveUp,
            "Document error",
        ),
    ]
}

#[test]
fn every_row_classifies_as_expected() {
    for r in table() {
        let o = classify(&r.facts);
        assert_eq!(o.class, r.class, "{}: class", r.name);
        assert_eq!(o.next, r.next, "{}: next action", r.name);
        assert!(
            o.reason.contains(r.reason),
            "{}: reason {:?} does not contain {:?}",
            r.name,
            o.reason,
            r.reason
        );
    }
}

#[test]
fn every_class_appears_in_the_table() {
    let seen: std::collections::BTreeSet<&str> = table().iter().map(|r| r.class.as_str()).collect();
    let all: std::collections::BTreeSet<&str> = OutcomeClass::NAMES.into_iter().collect();
    assert_eq!(seen, all);
}

#[test]
fn outcome_keeps_status_cause_retry_after_and_code() {
    let o = classify(&AttemptFacts {
        sip_status: Some(503),
        retry_after: Some(30),
        reason_headers: vec![
            "SIP;cause=503;text=\"Service Unavailable\"".into(),
            "Q.850;cause=41;text=\"Temporary failure\"".into(),
        ],
        ..AttemptFacts::default()
    });
    assert_eq!(o.sip_status, Some(503));
    assert_eq!(o.retry_after, Some(30));
    assert_eq!(
        o.q850,
        Some(Q850 {
            cause: 41,
            text: Some("Temporary failure".into())
        })
    );
    assert_eq!(o.t30_code, None);
    let f = classify(&answered(6, "x", 0, 1));
    assert_eq!(f.t30_code, Some(6));
}

#[test]
fn a_cause_parsed_by_the_call_is_used_when_no_header_gives_one() {
    let facts = AttemptFacts {
        q850_cause: Some(17),
        ..status(480)
    };
    let o = classify(&facts);
    assert_eq!(o.class, OutcomeClass::Busy);
    assert_eq!(
        o.q850,
        Some(Q850 {
            cause: 17,
            text: None
        })
    );
    // The header wins over the pre-parsed cause; an out-of-range cause is dropped.
    let o = classify(&with_reason(facts.clone(), "Q.850;cause=1"));
    assert_eq!(o.class, OutcomeClass::NotFound);
    let o = classify(&AttemptFacts {
        q850_cause: Some(300),
        ..status(480)
    });
    assert_eq!((o.class, o.q850), (OutcomeClass::NoAnswer, None));
}

#[test]
fn every_sip_status_gives_a_consistent_outcome() {
    for s in 0..=999u16 {
        for ring_timeout in [false, true] {
            let o = classify(&AttemptFacts {
                sip_status: Some(s),
                ring_timeout,
                ..AttemptFacts::default()
            });
            let final_class = matches!(
                o.class,
                OutcomeClass::Rejected | OutcomeClass::NotFound | OutcomeClass::DocumentError
            );
            assert_eq!(o.next == NextAction::GiveUp, final_class, "status {s}");
            assert_eq!(
                o.next == NextAction::Done,
                o.class == OutcomeClass::Success,
                "status {s}"
            );
            assert!(!o.reason.is_empty(), "status {s}");
            // Without T.30 having said OK, an answer is never a success.
            assert_ne!(o.class, OutcomeClass::Success, "status {s}");
        }
    }
}

#[test]
fn class_names_are_stable_in_serde_and_as_str() {
    let classes = [
        OutcomeClass::Success,
        OutcomeClass::Partial { sent: 1, total: 4 },
        OutcomeClass::Busy,
        OutcomeClass::NoAnswer,
        OutcomeClass::Rejected,
        OutcomeClass::NotFound,
        OutcomeClass::Unreachable,
        OutcomeClass::NoCommonMedia,
        OutcomeClass::NotAFax,
        OutcomeClass::FaxFailed,
        OutcomeClass::DocumentError,
    ];
    for (c, name) in classes.iter().zip(OutcomeClass::NAMES) {
        assert_eq!(c.as_str(), name);
        let json = serde_json::to_value(c).expect("serialize");
        assert_eq!(json["class"], name);
        let back: OutcomeClass = serde_json::from_value(json).expect("deserialize");
        assert_eq!(&back, c);
    }
    assert_eq!(
        serde_json::to_value(NextAction::RedialAudioOnly).expect("serialize"),
        "redial_audio_only"
    );
}

#[test]
fn outcome_json_is_flat_and_round_trips() {
    let o = classify(&answered(49, "The call dropped prematurely", 2, 5));
    let json = serde_json::to_value(&o).expect("serialize");
    assert_eq!(json["class"], "partial");
    assert_eq!(json["sent"], 2);
    assert_eq!(json["total"], 5);
    assert_eq!(json["next"], "retry_later");
    assert_eq!(json["t30_code"], 49);
    let back: Outcome = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, o);
}

#[test]
fn fax_and_media_failures() {
    use OutcomeClass as C;
    let fax: Vec<&str> = [
        C::Success,
        C::Partial { sent: 1, total: 2 },
        C::Busy,
        C::NotAFax,
        C::FaxFailed,
        C::DocumentError,
    ]
    .into_iter()
    .filter(|c| c.is_fax_failure())
    .map(|c| c.as_str())
    .collect();
    assert_eq!(fax, ["partial", "fax_failed"]);
    assert!(C::NotAFax.is_media_failure());
    assert!(!C::Busy.is_media_failure());
    assert!(!C::NoCommonMedia.is_media_failure());
    assert!(NextAction::NextGateway.retries());
    assert!(!NextAction::GiveUp.retries());
    assert!(!NextAction::Done.retries());
}

#[test]
fn reason_header_parsing() {
    let v = parse_reason(r#"Q.850;cause=16;text="Normal call clearing""#);
    assert_eq!(
        v,
        [ReasonValue {
            protocol: "Q.850".into(),
            cause: Some(16),
            text: Some("Normal call clearing".into()),
        }]
    );
    // Several values; a comma and an escaped quote inside the text; odd spacing and case.
    let v = parse_reason(
        r#"SIP ; cause=200 ; text="Call completed elsewhere, sorry",  q.850;CAUSE=31;TEXT="say \"hi\"""#,
    );
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].protocol, "SIP");
    assert_eq!(v[0].cause, Some(200));
    assert_eq!(
        v[0].text.as_deref(),
        Some("Call completed elsewhere, sorry")
    );
    assert_eq!(v[1].protocol, "q.850");
    assert_eq!(v[1].cause, Some(31));
    assert_eq!(v[1].text.as_deref(), Some(r#"say "hi""#));
    // Garbage does not panic and yields nothing usable.
    for junk in [
        "",
        ";;;",
        "=\"",
        "Q.850;cause=abc",
        "\"unterminated",
        "Q.850;text=\"x",
    ] {
        let _ = parse_reason(junk);
        assert_eq!(q850_cause(&[junk]), None, "{junk:?}");
    }
}

#[test]
fn q850_cause_picks_the_first_valid_q850_value() {
    let headers = [
        "SIP;cause=486".to_owned(),
        "Q.850;cause=200".to_owned(), // out of range: ignored
        "Q.850;cause=17;text=\"User busy\"".to_owned(),
        "Q.850;cause=16".to_owned(),
    ];
    assert_eq!(
        q850_cause(&headers),
        Some(Q850 {
            cause: 17,
            text: Some("User busy".into())
        })
    );
    assert_eq!(q850_cause(&["SIP;cause=486"]), None);
    assert_eq!(q850_cause(&["Q.850;cause=0"]), None);
    assert_eq!(q850_cause(&["Q.850;cause=127"]).map(|q| q.cause), Some(127));
}

/// The numbering is libspandsp 0.0.6's; this fails if a different SpanDSP moves the codes.
#[test]
fn t30_codes_match_the_linked_spandsp() {
    let text = |c: i32| CompletionCode(c).text();
    assert_eq!(text(t30::OK), "OK");
    assert_eq!(
        text(t30::T0_EXPIRED),
        "Timed out waiting for initial communication"
    );
    assert_eq!(
        text(t30::T1_EXPIRED),
        "Timed out waiting for the first message"
    );
    assert_eq!(text(t30::FILE_ERROR), "TIFF/F file cannot be opened");
    assert_eq!(text(t30::NO_MEM), "Cannot allocate memory for more pages");
    assert_eq!(text(t30::CALL_DROPPED), "The call dropped prematurely");
    assert_eq!(CompletionCode::CALL_DROPPED.0, t30::CALL_DROPPED);
    assert_eq!(CompletionCode::OK.0, t30::OK);
    // Everything between the first and last TIFF error is a TIFF error too.
    for c in t30::FILE_ERROR..=t30::NO_MEM {
        assert!(
            text(c).contains("TIFF") || text(c).contains("memory"),
            "{c}: {}",
            text(c)
        );
        assert!(t30::is_document_error(c));
    }
    assert!(!t30::is_document_error(t30::CALL_DROPPED));
    assert!(!t30::is_no_fax(t30::CALL_DROPPED));
}
