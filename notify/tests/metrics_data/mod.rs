//! The calls, store rows and SIP traffic the metrics test observes: realistic engine events
//! (a G.711 success, a T.38 call that fell back to audio, a flip-flop that failed with a T.30
//! code, a busy, a received fax, calls still in progress including a bridged one).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::TimeDelta;
use engine::call::{
    CallReport, FaxDirection, FaxSummary, MediaPhase, PageReport, Party, T38Event, T38Step,
};
use engine::events::{CallInfo, EngineEvent};
use sip::msg::{parse_datagram, Message};
use sip::transaction::{Peer, TimerConfig, TransactionEvent, TransactionLayer, Transport};
use store::*;

use crate::common::t0;

/// The call `uuid` of `tenant` through `gateway`.
pub fn info(uuid: &str, tenant: i64, direction: FaxDirection, gateway: Option<&str>) -> CallInfo {
    CallInfo {
        call_uuid: uuid.into(),
        job_uuid: Some(format!("job-{uuid}")),
        tenant_id: Some(tenant),
        sip_call_id: format!("{uuid}@pbx"),
        direction,
        caller: "+12125550100".into(),
        callee: "+12125550199".into(),
        gateway: gateway.map(str::to_owned),
    }
}

/// A media phase from `from_ms`.
pub fn phase(media: &str, from_ms: u64) -> MediaPhase {
    MediaPhase {
        media: media.into(),
        from_ms,
    }
}

/// A T.38 step at `at_ms`.
pub fn t38(at_ms: u64, step: T38Step) -> T38Event {
    T38Event { at_ms, step }
}

/// Page `n`, carried by `media`.
pub fn page(n: u32, media: &str) -> PageReport {
    PageReport {
        page: n,
        bit_rate: 14400,
        ecm: true,
        resolution: "fine".into(),
        width: 1728,
        rows: 2200,
        bad_rows: 0,
        media: media.into(),
        at_ms: 10_000 * u64::from(n),
    }
}

/// A T.30 result.
pub fn summary(code: i32, text: &str, pages: u32, total: u32) -> FaxSummary {
    FaxSummary {
        code,
        code_text: text.into(),
        pages,
        pages_total: total,
        bit_rate: 14400,
        ecm: true,
        resolution: "fine".into(),
        remote_ident: "+1 212 555 0199".into(),
        bad_rows: 0,
        longest_bad_row_run: 0,
        negotiations: 1,
    }
}

/// An answered call whose T.30 ended with `code` after `pages` pages.
pub fn answered(direction: FaxDirection, code: i32, text: &str, pages: u32) -> CallReport {
    let mut r = CallReport::new(direction);
    r.answered = true;
    r.sip_status = Some(200);
    r.hangup_by = Some(Party::Remote);
    r.fax_seen = true;
    r.fax = Some(summary(code, text, pages, pages.max(1)));
    r.duration_ms = 40_000;
    r
}

/// The events of the test's calls, in the order a server would publish them.
pub fn calls() -> Vec<EngineEvent> {
    use FaxDirection::{Receive, Send};
    let mut ev = Vec::new();
    let created = |c: &CallInfo| EngineEvent::CallCreated { call: c.clone() };
    let ended = |c: &CallInfo, r: CallReport| EngineEvent::CallEnded {
        call: c.clone(),
        report: Box::new(r),
    };
    let paged = |c: &CallInfo, p: PageReport| EngineEvent::FaxPage {
        call: c.clone(),
        page: p,
    };

    // 1: G.711 from start to end, two pages confirmed.
    let c = info("c1", 1, Send, Some("carrier-a"));
    ev.push(created(&c));
    ev.push(EngineEvent::CallAnswered { call: c.clone() });
    ev.push(paged(&c, page(1, "audio/PCMU")));
    ev.push(paged(&c, page(2, "audio/PCMU")));
    let mut r = answered(Send, 0, "OK", 2);
    r.media = vec![phase("audio/PCMU", 0)];
    r.media_counters.rtp_late = 3;
    r.media_counters.rtp_lost = 2;
    ev.push(ended(&c, r));

    // 2: T.38 in the first answer, no UDPTL came, back to audio; one page.
    let c = info("c2", 1, Send, Some("carrier-a"));
    ev.push(created(&c));
    ev.push(paged(&c, page(1, "audio/PCMA")));
    let mut r = answered(Send, 0, "OK", 1);
    r.media = vec![phase("t38/v0", 0), phase("audio/PCMA", 8_000)];
    r.t38 = vec![
        t38(0, T38Step::Offered { by: Party::Local }),
        t38(0, T38Step::Accepted { by: Party::Remote }),
        t38(8_000, T38Step::NoMedia),
        t38(8_000, T38Step::BackToAudio),
    ];
    r.media_counters.rtp_late = 1;
    r.media_counters.udptl_late = 1;
    r.media_counters.udptl_lost = 4;
    r.media_counters.udptl_recovered = 5;
    ev.push(ended(&c, r));

    // 3: audio, T.38, audio, T.38 again (a flip-flop); the call dropped before any page.
    let c = info("c3", 1, Send, Some("carrier-a"));
    ev.push(created(&c));
    let mut r = answered(Send, 49, "The call dropped prematurely", 0);
    r.media = vec![
        phase("audio/PCMU", 0),
        phase("t38/v0", 4_000),
        phase("audio/PCMU", 6_000),
        phase("t38/v0", 7_000),
    ];
    r.t38 = vec![
        t38(3_900, T38Step::Offered { by: Party::Local }),
        t38(4_000, T38Step::Accepted { by: Party::Remote }),
        t38(6_000, T38Step::BackToAudio),
        t38(6_900, T38Step::Offered { by: Party::Remote }),
        t38(7_000, T38Step::Accepted { by: Party::Local }),
    ];
    ev.push(ended(&c, r));

    // 4: busy.
    let c = info("c4", 1, Send, Some("carrier-a"));
    ev.push(created(&c));
    let mut r = CallReport::new(Send);
    r.sip_status = Some(486);
    ev.push(ended(&c, r));

    // 5: a received fax, one page, from a peer with no gateway name.
    let c = info("c5", 1, Receive, None);
    ev.push(created(&c));
    ev.push(paged(&c, page(1, "t38/v0")));
    let mut r = answered(Receive, 0, "OK", 1);
    r.media = vec![phase("t38/v0", 0)];
    ev.push(ended(&c, r));

    // Still in progress: a bridged call, a T.38 receive, and one of another tenant that has
    // not reported its media yet.
    let c = info("c6", 1, Receive, Some("carrier-b"));
    ev.push(created(&c));
    ev.push(paged(&c, page(1, "bridge/T.38 gateway")));
    let c = info("c7", 1, Receive, Some("carrier-b"));
    ev.push(created(&c));
    ev.push(paged(&c, page(1, "t38/v2")));
    ev.push(created(&info("c8", 7, Send, Some("carrier-a"))));
    ev
}

/// Two queued jobs (the oldest 90 s old at scrape time) and failed deliveries.
pub async fn seed_store(s: &dyn Store, tenant: TenantId) {
    for (secs, callee) in [(0, "+12125550111"), (30, "+12125550112")] {
        let job = NewJob {
            tenant_id: tenant,
            direction: Direction::Outbound,
            caller: "+12125550100".into(),
            callee: callee.into(),
            document_id: None,
            priority: 0,
            not_before: t0(),
        };
        s.create_job(&job, t0() + TimeDelta::seconds(secs))
            .await
            .unwrap();
    }
    let delivery = |channel| NewDelivery {
        tenant_id: Some(tenant),
        job_id: None,
        endpoint_id: None,
        channel,
        event: "fax.failed".into(),
        target: "https://hooks.example.invalid/".into(),
        content_type: "application/json".into(),
        headers: BTreeMap::new(),
        body: b"{}".to_vec(),
        not_before: t0(),
    };
    let tried = |code: Option<i64>, error: &str, next| NewDeliveryAttempt {
        started_at: t0(),
        duration_ms: 3,
        status_code: code,
        error: error.into(),
        next,
    };
    let hook = s
        .create_delivery(&delivery(Channel::Webhook), t0())
        .await
        .unwrap();
    let retry = DeliveryNext::RetryAt(t0() + TimeDelta::seconds(60));
    let a = tried(Some(503), "HTTP 503", retry);
    assert!(s.record_delivery_attempt(hook.id, &a, t0()).await.unwrap());
    let mail = s
        .create_delivery(&delivery(Channel::Email), t0())
        .await
        .unwrap();
    let a = tried(Some(550), "550 no such user", DeliveryNext::GiveUp);
    assert!(s.record_delivery_attempt(mail.id, &a, t0()).await.unwrap());
    for name in ["carrier-a", "standby"] {
        let g = NewGateway {
            name: name.into(),
            uri: format!("sip:{name}.example.invalid"),
            transport: store::Transport::Udp,
            username: None,
            password: None,
            register: false,
            allowed_sources: Vec::new(),
            tenant_id: None,
            t38_allowed: true,
        };
        s.create_gateway(&g).await.unwrap();
    }
}

/// Parses `text` written with `\n` line ends.
pub fn sip_message(text: &str) -> Message {
    parse_datagram(text.replace('\n', "\r\n").as_bytes()).expect("valid SIP")
}

/// A client INVITE answered 486 and a server OPTIONS answered 200, on a real layer.
pub fn sip_traffic() {
    let now = Instant::now();
    let peer = Peer {
        addr: "192.0.2.10:5060".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut layer = TransactionLayer::new(TimerConfig::default(), 7);
    let branch = layer.new_branch();
    let head = |start: &str, via_branch: &str, cseq: &str| {
        format!(
            "{start}\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={via_branch}\n\
             From: <sip:fax@192.0.2.1>;tag=a\nTo: <sip:+12125550199@192.0.2.10>\n\
             Call-ID: m1@192.0.2.1\nCSeq: {cseq}\nMax-Forwards: 70\nContent-Length: 0\n\n"
        )
    };
    let Message::Request(invite) = sip_message(&head(
        "INVITE sip:+12125550199@192.0.2.10 SIP/2.0",
        &branch,
        "1 INVITE",
    )) else {
        panic!("not a request")
    };
    layer.send_request(now, invite, peer).unwrap();
    layer.handle_message(
        now,
        sip_message(&head("SIP/2.0 486 Busy Here", &branch, "1 INVITE")),
        peer,
    );
    // A retransmitted final is absorbed and not counted again.
    layer.handle_message(
        now,
        sip_message(&head("SIP/2.0 486 Busy Here", &branch, "1 INVITE")),
        peer,
    );

    let options = head(
        "OPTIONS sip:fax@192.0.2.1 SIP/2.0",
        "z9hG4bKopt1",
        "5 OPTIONS",
    );
    layer.handle_message(now, sip_message(&options), peer);
    let id = std::iter::from_fn(|| layer.poll_event())
        .find_map(|e| match e {
            TransactionEvent::Request { id, .. } => Some(id),
            _ => None,
        })
        .expect("the OPTIONS reached the TU");
    let Message::Response(ok) = sip_message(&head("SIP/2.0 200 OK", "z9hG4bKopt1", "5 OPTIONS"))
    else {
        panic!("not a response")
    };
    layer.send_response(now, id, ok).unwrap();
}
