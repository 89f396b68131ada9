//! Rendered events against golden bytes: a fixed switch identity and time, so every byte of
//! a `spandsp::txfaxresult` event in plain, JSON and XML encodings can be compared.

use std::sync::Arc;

use chrono::{DateTime, TimeZone};
use engine::call::FaxDirection;
use engine::events::{CallInfo, EngineEvent, Stamped};
use fs_compat::esl::channels::{Channels, Origination};
use fs_compat::esl::event::EventFormat;
use fs_compat::esl::render::{Identity, Renderer};

fn renderer() -> Renderer {
    Renderer::new(Identity {
        core_uuid: "6d1c2f6e-0000-4000-8000-000000000000".to_owned(),
        hostname: "faxhost".to_owned(),
        switchname: "faxhost".to_owned(),
        ipv4: "192.0.2.10".to_owned(),
        ipv6: "::1".to_owned(),
    })
}

fn call() -> CallInfo {
    CallInfo {
        call_uuid: "c-1".to_owned(),
        job_uuid: Some("job-1".to_owned()),
        tenant_id: None,
        sip_call_id: "abc@192.0.2.10".to_owned(),
        direction: FaxDirection::Send,
        caller: "15550001".to_owned(),
        callee: "15551234".to_owned(),
        gateway: Some("gw1".to_owned()),
    }
}

fn at(s: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(s, 0).unwrap()
}

fn report() -> engine::call::CallReport {
    // Built from JSON: the report's constructor is private to the engine.
    serde_json::from_value(serde_json::json!({
        "call_id": "abc@192.0.2.10", "direction": "send", "answered": true,
        "sip_status": 200, "retry_after": null, "q850_cause": null, "reason_headers": [],
        "warning_codes": [], "ring_timeout": false, "transport_timeout": false,
        "offered_only_g711": false, "hangup_by": "local", "sip_end": "BYE sent",
        "failure": null, "fax_seen": true, "media": [], "t38": [], "pages": [],
        "duration_ms": 61000, "session_refreshes": 0,
        "fax": {"code": 0, "code_text": "OK", "pages": 2, "pages_total": 2,
                "bit_rate": 14400, "ecm": true, "resolution": "fine",
                "remote_ident": "FAR END", "bad_rows": 0, "longest_bad_row_run": 0,
                "negotiations": 1}
    }))
    .expect("a CallReport")
}

#[test]
fn txfaxresult_byte_for_byte() {
    let r = renderer();
    let channels = Arc::new(Channels::new());
    channels.note_origination(
        "job-1",
        Origination {
            uuid: "orig-1".to_owned(),
            variables: vec![
                ("fax_ident".to_owned(), "+1 555 0001".to_owned()),
                ("fax_use_ecm".to_owned(), "true".to_owned()),
            ],
        },
    );
    let created = r.render(
        &Stamped {
            at: at(1_700_000_000),
            event: EngineEvent::CallCreated { call: call() },
        },
        &channels,
    );
    assert_eq!(created.len(), 2);
    r.render(
        &Stamped {
            at: at(1_700_000_002),
            event: EngineEvent::CallAnswered { call: call() },
        },
        &channels,
    );
    let ended = r.render(
        &Stamped {
            at: at(1_700_000_063),
            event: EngineEvent::CallEnded {
                call: call(),
                report: Box::new(report()),
            },
        },
        &channels,
    );
    let names: Vec<String> = ended
        .iter()
        .map(|e| e.subclass().unwrap_or(e.name()).to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "spandsp::txfaxresult",
            "CHANNEL_CALLSTATE",
            "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE"
        ]
    );
    let result = &ended[0];
    let local = chrono::Local
        .timestamp_opt(1_700_000_063, 0)
        .unwrap()
        .format("%Y-%m-%d%%20%H%%3A%M%%3A%S")
        .to_string();
    let expected = format!(
        "Event-Name: CUSTOM
Core-UUID: 6d1c2f6e-0000-4000-8000-000000000000
FreeSWITCH-Hostname: faxhost
FreeSWITCH-Switchname: faxhost
FreeSWITCH-IPv4: 192.0.2.10
FreeSWITCH-IPv6: %3A%3A1
Event-Date-Local: {local}
Event-Date-GMT: Tue,%2014%20Nov%202023%2022%3A14%3A23%20GMT
Event-Date-Timestamp: 1700000063000000
Event-Calling-File: faxserver
Event-Calling-Function: fax
Event-Calling-Line-Number: 0
Event-Sequence: 5
Event-Subclass: spandsp%3A%3Atxfaxresult
Channel-State: CS_EXECUTE
Channel-Call-State: ACTIVE
Channel-State-Number: 4
Channel-Name: sofia/gateway/gw1/15551234
Unique-ID: orig-1
Call-Direction: outbound
Presence-Call-Direction: outbound
Channel-HIT-Dialplan: false
Channel-Call-UUID: orig-1
Answer-State: answered
Caller-Direction: outbound
Caller-Logical-Direction: outbound
Caller-Username: 15550001
Caller-Dialplan: XML
Caller-Caller-ID-Name: 15550001
Caller-Caller-ID-Number: 15550001
Caller-Orig-Caller-ID-Name: 15550001
Caller-Orig-Caller-ID-Number: 15550001
Caller-Network-Addr: _undef_
Caller-ANI: 15550001
Caller-Destination-Number: 15551234
Caller-Unique-ID: orig-1
Caller-Source: mod_sofia
Caller-Context: public
Caller-Channel-Name: sofia/gateway/gw1/15551234
Caller-Profile-Index: 1
Caller-Profile-Created-Time: 1700000000000000
Caller-Channel-Created-Time: 1700000000000000
Caller-Channel-Answered-Time: 1700000002000000
Caller-Channel-Progress-Time: 0
Caller-Channel-Progress-Media-Time: 0
Caller-Channel-Hangup-Time: 0
Caller-Channel-Transfer-Time: 0
variable_direction: outbound
variable_uuid: orig-1
variable_call_uuid: orig-1
variable_sip_call_id: abc%40192.0.2.10
variable_sip_from_user: 15550001
variable_sip_to_user: 15551234
variable_sip_gateway_name: gw1
variable_sip_gateway: gw1
variable_faxserver_job_uuid: job-1
variable_fax_ecm_requested: 1
variable_fax_ident: %2B1%20555%200001
variable_fax_use_ecm: true
variable_fax_success: 1
variable_fax_result_code: 0
variable_fax_result_text: OK
variable_fax_ecm_used: on
variable_fax_local_station_id: %2B1%20555%200001
variable_fax_remote_station_id: FAR%20END
variable_fax_document_transferred_pages: 2
variable_fax_document_total_pages: 2
variable_fax_image_resolution: 8031x7700
variable_fax_image_size: 0
variable_fax_bad_rows: 0
variable_fax_transfer_rate: 14400
fax-success: 1
fax-result-code: 0
fax-result-text: OK
fax-document-transferred-pages: 2
fax-document-total-pages: 2
fax-image-resolution: 8031x7700
fax-image-size: 0
fax-bad-rows: 0
fax-longest-bad-row-run: 0
fax-transfer-rate: 14400
fax-ecm-used: on
fax-local-station-id: %2B1%20555%200001
fax-remote-station-id: FAR%20END

"
    );
    assert_eq!(result.serialize(EventFormat::Plain), expected);

    let json: serde_json::Value =
        serde_json::from_str(&result.serialize(EventFormat::Json)).unwrap();
    assert_eq!(json["Event-Subclass"], "spandsp::txfaxresult");
    assert_eq!(json["fax-local-station-id"], "+1 555 0001");
    assert_eq!(json["Caller-Network-Addr"], "");

    let xml = result.serialize(EventFormat::Xml);
    assert!(xml.contains("\n    <Event-Subclass>spandsp%3A%3Atxfaxresult</Event-Subclass>\n"));
    assert!(xml.ends_with(
        "    <fax-remote-station-id>FAR%20END</fax-remote-station-id>\n  </headers>\n</event>\n"
    ));

    let hangup = &ended[2];
    assert_eq!(hangup.header("Hangup-Cause"), Some("NORMAL_CLEARING"));
    assert_eq!(hangup.header("Answer-State"), Some("hangup"));
    let complete = &ended[3];
    assert_eq!(complete.header("Channel-State"), Some("CS_REPORTING"));
    assert_eq!(complete.header("variable_billsec"), Some("61"));
    assert_eq!(complete.header("variable_duration"), Some("63"));
    let callstate = &ended[1];
    assert_eq!(callstate.header("Channel-Call-State"), Some("HANGUP"));
    assert_eq!(
        callstate.header("Original-Channel-Call-State"),
        Some("ACTIVE")
    );
    assert_eq!(callstate.header("variable_uuid"), None);
    assert!(channels.list().is_empty());
}
