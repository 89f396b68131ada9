//! RFC 3261 §12–§15 between two of our user agents wired in memory: INVITE, 180, 200, the
//! UAC's own ACK, BYE in both directions, CANCEL before answer, rejection, OPTIONS, 420 for
//! an unknown Require, a delayed offer, and a lost ACK recovered by 2xx retransmission.

use std::time::Duration;

use sip::dialog::{DialogEvent, EndReason};
use sip::msg::{HeaderName, Method, StatusCode};
use sip::sdp::Agreed;

mod dialog_harness;
use dialog_harness::*;

#[test]
fn basic_call_and_bye_from_the_caller() {
    let mut w = World::new();
    let (ida, idb) = w.established();
    assert_eq!(w.labels("A"), ["INVITE", "ACK"]);
    assert_eq!(w.labels("B"), ["180 INVITE", "200 INVITE"]);

    let invite = &w.requests("A", "INVITE")[0];
    let h = &invite.headers;
    assert_eq!(h.get(&HeaderName::MaxForwards), Some("70"));
    for name in [
        HeaderName::Allow,
        HeaderName::Supported,
        HeaderName::UserAgent,
        HeaderName::Contact,
        HeaderName::SessionExpires,
        HeaderName::MinSe,
    ] {
        assert!(h.contains(&name), "INVITE lacks {name}");
    }
    assert_eq!(h.cseq().unwrap().seq, 1);
    assert_eq!(h.get(&HeaderName::ContentType), Some("application/sdp"));

    let ok = &w.responses("B", "INVITE")[1];
    for name in [
        HeaderName::Allow,
        HeaderName::Supported,
        HeaderName::Server,
        HeaderName::Contact,
    ] {
        assert!(ok.headers.contains(&name), "200 lacks {name}");
    }
    let to_tag = ok.headers.to().unwrap().tag().unwrap().to_owned();

    // The ACK is built by the UAC (RFC 3261 §13.2.2.4): same CSeq number, a new branch,
    // the dialog's tags, sent to the Contact of the 200.
    let ack = &w.requests("A", "ACK")[0];
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    assert_eq!(ack.headers.to().unwrap().tag(), Some(to_tag.as_str()));
    assert_ne!(
        ack.headers.top_via().unwrap().branch(),
        invite.headers.top_via().unwrap().branch()
    );
    assert_eq!(ack.uri.to_string(), format!("sip:b@{B_ADDR}"));
    assert_eq!(ack.headers.get(&HeaderName::MaxForwards), Some("70"));

    match &w.a.dl.agreed(ida) {
        Some(Agreed::Audio(a)) => assert_eq!(a.remote.unwrap().port(), 50000),
        other => panic!("{other:?}"),
    }
    assert!(matches!(w.b.dl.agreed(idb), Some(Agreed::Audio(_))));

    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    let bye = &w.requests("A", "BYE")[0];
    assert_eq!(bye.headers.cseq().unwrap().seq, 2);
    assert_eq!(bye.headers.get(&HeaderName::MaxForwards), Some("70"));
    assert!(bye.headers.contains(&HeaderName::UserAgent));
    assert_eq!(w.responses("B", "BYE")[0].status, StatusCode::OK);
    assert_eq!(ended(&w.a), Some(EndReason::Bye { remote: false }));
    assert_eq!(ended(&w.b), Some(EndReason::Bye { remote: true }));
}

#[test]
fn bye_from_the_callee_uses_its_own_cseq_space() {
    let mut w = World::new();
    let (_, idb) = w.established();
    w.on_b(|dl, tl, now| dl.bye(now, tl, idb)).unwrap();
    w.run_for(Duration::from_secs(1));
    let bye = &w.requests("B", "BYE")[0];
    // From/To swap: the callee's tag is in From.
    let ok = &w.responses("B", "INVITE")[1];
    assert_eq!(
        bye.headers.from().unwrap().tag(),
        ok.headers.to().unwrap().tag()
    );
    assert_eq!(bye.uri.to_string(), format!("sip:a@{A_ADDR}"));
    assert_eq!(ended(&w.a), Some(EndReason::Bye { remote: true }));
    assert_eq!(ended(&w.b), Some(EndReason::Bye { remote: false }));
    // Both calls linger 32 s for late retransmissions, then go.
    w.run_for(Duration::from_secs(40));
    assert!(w.a.dl.is_empty() && w.b.dl.is_empty());
}

#[test]
fn cancel_before_answer_gets_487() {
    let mut w = World::new();
    w.b.app.answer = None;
    let ida = w.call(call_to_b(false));
    w.run_for(Duration::from_millis(100));
    assert!(w.a.events.iter().any(
        |(_, e)| matches!(e, DialogEvent::Early { status, .. } if *status == StatusCode::RINGING)
    ));
    w.on_a(|dl, tl, now| dl.cancel(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    let cancel = &w.requests("A", "CANCEL")[0];
    let invite = &w.requests("A", "INVITE")[0];
    assert_eq!(cancel.headers.cseq().unwrap().seq, 1);
    assert_eq!(
        cancel.headers.top_via().unwrap().branch(),
        invite.headers.top_via().unwrap().branch()
    );
    assert_eq!(cancel.uri, invite.uri);
    let cancel_ok = &w.responses("B", "CANCEL")[0];
    assert_eq!(cancel_ok.status, StatusCode::OK);
    let terminated = w.responses("B", "INVITE").pop().unwrap();
    assert_eq!(terminated.status, StatusCode::REQUEST_TERMINATED);
    assert_eq!(
        cancel_ok.headers.to().unwrap().tag(),
        terminated.headers.to().unwrap().tag()
    );
    // The ACK for the 487 is the transaction's, with the INVITE's branch.
    let ack = &w.requests("A", "ACK")[0];
    assert_eq!(
        ack.headers.top_via().unwrap().branch(),
        invite.headers.top_via().unwrap().branch()
    );
    assert_eq!(ended(&w.a), Some(EndReason::Cancel));
    assert_eq!(ended(&w.b), Some(EndReason::Cancel));
}

#[test]
fn cancel_waits_for_a_provisional_response() {
    let mut w = World::new();
    w.b.app.answer = None;
    w.b.app.ring = false;
    // B's transaction layer sends 100 Trying after 200 ms; the CANCEL must wait for it.
    let ida = w.call(call_to_b(false));
    w.on_a(|dl, tl, now| dl.cancel(now, tl, ida)).unwrap();
    assert!(w.requests("A", "CANCEL").is_empty());
    w.run_for(Duration::from_secs(1));
    let cancel_at = w
        .wire
        .iter()
        .find(|m| m.label() == "CANCEL")
        .map(|m| m.at_ms)
        .unwrap();
    assert!(cancel_at >= 200, "CANCEL sent at {cancel_at} ms");
    assert_eq!(ended(&w.a), Some(EndReason::Cancel));
}

#[test]
fn rejection_is_reported_with_its_code() {
    let mut w = World::new();
    w.b.app.answer = None;
    let ida = w.call(call_to_b(false));
    w.run_for(Duration::from_millis(50));
    let idb = match &w.b.events[0].1 {
        DialogEvent::Incoming { id, .. } => *id,
        other => panic!("{other:?}"),
    };
    w.on_b(|dl, tl, now| dl.reject(now, tl, idb, StatusCode::new(486).unwrap()))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    assert_eq!(
        ended(&w.a),
        Some(EndReason::Rejected(StatusCode::new(486).unwrap()))
    );
    assert!(w.a.dl.bye(w.clock.now(), &mut w.a.tl, ida).is_err());
}

#[test]
fn delayed_offer_gets_our_offer_in_the_200_and_the_answer_in_the_ack() {
    let mut w = World::new();
    let ida = w.call(call_to_b(true));
    w.run_until(Duration::from_secs(5), |w| {
        confirmed(&w.a).is_some() && confirmed(&w.b).is_some()
    });
    let invite = &w.requests("A", "INVITE")[0];
    assert!(invite.body.is_empty());
    let ok = &w.responses("B", "INVITE")[1];
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio 50000 RTP/AVP"));
    let ack = &w.requests("A", "ACK")[0];
    assert_eq!(
        ack.headers.get(&HeaderName::ContentType),
        Some("application/sdp")
    );
    assert!(String::from_utf8_lossy(&ack.body).contains("m=audio 40000 RTP/AVP"));
    let idb = confirmed(&w.b).unwrap();
    assert!(
        matches!(w.b.dl.agreed(idb), Some(Agreed::Audio(a)) if a.remote.unwrap().port() == 40000)
    );
    assert!(
        matches!(w.a.dl.agreed(ida), Some(Agreed::Audio(a)) if a.remote.unwrap().port() == 50000)
    );
}

#[test]
fn options_are_answered_in_and_out_of_dialog() {
    use sip::msg::{parse_datagram, Message};
    use sip::transaction::TransactionEvent;
    let mut w = World::new();
    let text = format!(
        "OPTIONS sip:fax@{B_ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP {A_ADDR};branch=z9hG4bKopt1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@{A_ADDR}>;tag=p1\r\nTo: <sip:fax@{B_ADDR}>\r\n\
         Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\n\r\n"
    );
    let Message::Request(opt) = parse_datagram(text.as_bytes()).unwrap() else {
        unreachable!()
    };
    let now = w.now();
    w.b.tl.handle_message(now, opt.into(), peer(A_ADDR));
    w.settle();
    let resp = w.responses("B", "OPTIONS").pop().unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.headers.allow().contains(&Method::Invite));
    assert!(resp.headers.allow().contains(&Method::Update));
    assert_eq!(resp.headers.accept(), Some(vec!["application/sdp"]));
    assert!(resp.headers.supported().contains(&"100rel"));
    assert!(resp.headers.supported().contains(&"timer"));
    assert!(resp.headers.to().unwrap().tag().is_some());
    // A's transaction layer gets the 200 for a request the dialog layer did not send:
    // it hands the event back.
    let ev = w.a.tl.poll_event();
    if let Some(ev) = ev {
        assert!(matches!(ev, TransactionEvent::StrayResponse { .. }));
    }

    // In dialog: an OPTIONS with the dialog's tags.
    let (_, _) = w.established();
    let bye_like = w.requests("A", "ACK")[0].clone();
    let mut req = bye_like.clone();
    req.method = Method::Options;
    req.headers.set(HeaderName::CSeq, "2 OPTIONS");
    req.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/UDP {A_ADDR};branch=z9hG4bKopt2"),
    );
    let now = w.now();
    w.b.tl.handle_message(now, req.into(), peer(A_ADDR));
    w.settle();
    let resp = w.responses("B", "OPTIONS").pop().unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.headers.contains(&HeaderName::Allow));
    assert!(resp.headers.contains(&HeaderName::Accept));
}

#[test]
fn unknown_require_gets_420_with_unsupported() {
    let mut w = World::new();
    let mut params = call_to_b(false);
    params
        .headers
        .push((HeaderName::Require, "foo, 100rel".into()));
    w.call(params);
    w.run_for(Duration::from_secs(1));
    let resp = &w.responses("B", "INVITE")[0];
    assert_eq!(resp.status.as_u16(), 420);
    assert_eq!(resp.headers.unsupported(), ["foo"]);
    assert_eq!(
        ended(&w.a),
        Some(EndReason::Rejected(StatusCode::BAD_EXTENSION))
    );
    assert!(w.b.events.is_empty(), "no call reached B's application");
}

#[test]
fn lost_ack_is_recovered_by_the_2xx_retransmission() {
    let mut w = World::new();
    let mut acks = 0;
    w.drop = Box::new(move |m| {
        if m.label() == "ACK" {
            acks += 1;
            return acks == 1;
        }
        false
    });
    w.call(call_to_b(false));
    w.run_for(Duration::from_secs(3));
    // B retransmitted its 200 after T1; A answered it with the same ACK.
    let oks = w
        .responses("B", "INVITE")
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(oks, 2);
    assert_eq!(w.dropped.len(), 1);
    let ack = &w.requests("A", "ACK")[0];
    assert_eq!(ack, w.dropped[0].request().unwrap());
    assert!(confirmed(&w.b).is_some());
    assert_eq!(ended(&w.b), None);
}

#[test]
fn missing_ack_ends_the_call_with_bye() {
    let mut w = World::new();
    w.drop = Box::new(|m| m.label() == "ACK");
    w.call(call_to_b(false));
    w.run_for(Duration::from_secs(40));
    assert_eq!(ended(&w.b), Some(EndReason::Timeout));
    assert_eq!(w.requests("B", "BYE").len(), 1);
    assert_eq!(ended(&w.a), Some(EndReason::Bye { remote: true }));
}

#[test]
fn calls_survive_a_lossy_link() {
    // 20 % random loss both ways (seeded): retransmissions of INVITE, 2xx, ACK and BYE
    // recover every call.
    let mut lost = 0;
    for seed in 1..=8u64 {
        let mut w = World::new();
        let mut rng = test_support::SeededRng::new(seed);
        w.drop = Box::new(move |_| rng.chance(0.2));
        let ida = w.call(call_to_b(false));
        assert!(
            w.run_until(Duration::from_secs(40), |w| confirmed(&w.a).is_some()
                && confirmed(&w.b).is_some()),
            "seed {seed}: not established"
        );
        w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
        w.run_for(Duration::from_secs(40));
        assert_eq!(
            ended(&w.a),
            Some(EndReason::Bye { remote: false }),
            "seed {seed}"
        );
        assert_eq!(
            ended(&w.b),
            Some(EndReason::Bye { remote: true }),
            "seed {seed}"
        );
        lost += w.dropped.len();
    }
    assert!(lost > 5, "the link lost {lost} messages");
}
