//! re-INVITE in both directions (RFC 3261 §14) with the RFC 3264 offer/answer through
//! `sip::sdp`: switching to T.38, a 488 that keeps the call on audio, glare (491 and the
//! §14.1 back-off, then the retry), and an SDP-less re-INVITE during T.38 answered with the
//! current SDP byte for byte.

use std::time::Duration;

use sip::dialog::DialogEvent;
use sip::msg::{HeaderName, Method, Request, StatusCode};
use sip::sdp::{Agreed, OfferMedia, Policy, SessionDescription, UdpEc};

mod dialog_harness;
use dialog_harness::*;

fn t38(w: &World, ua: &Ua, id: sip::dialog::DialogId) -> sip::sdp::T38Session {
    let _ = w;
    match ua.dl.agreed(id) {
        Some(Agreed::T38(t)) => t.clone(),
        other => panic!("not T.38: {other:?}"),
    }
}

#[test]
fn reinvite_to_t38_is_accepted_by_policy() {
    let mut w = World::new();
    let (ida, idb) = w.established();
    w.on_a(|dl, tl, now| dl.reinvite(now, tl, ida, OfferMedia::T38))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    let reinvites = w.requests("A", "INVITE");
    assert_eq!(reinvites.len(), 2);
    let re = &reinvites[1];
    assert_eq!(re.headers.cseq().unwrap().seq, 2);
    let body = String::from_utf8_lossy(&re.body).into_owned();
    assert!(body.contains("m=image 40002 udptl t38"), "{body}");
    // Same o= session id, version one higher (RFC 3264 §8).
    let first = SessionDescription::parse(&w.requests("A", "INVITE")[0].body).unwrap();
    let second = SessionDescription::parse(&re.body).unwrap();
    assert_eq!(first.origin.session_id, second.origin.session_id);
    assert_eq!(
        second.origin.session_version.parse::<u64>().unwrap(),
        first.origin.session_version.parse::<u64>().unwrap() + 1
    );
    // B's application was asked, accepted, and both sides agree on T.38.
    assert_eq!(
        count(&w.b, |e| matches!(
            e,
            DialogEvent::ReinviteOffered {
                method: Method::Invite,
                ..
            }
        )),
        1
    );
    let ta = t38(&w, &w.a, ida);
    let tb = t38(&w, &w.b, idb);
    assert_eq!(ta.remote.unwrap().port(), 50002);
    assert_eq!(tb.remote.unwrap().port(), 40002);
    assert_eq!((ta.version, ta.max_bit_rate), (0, 14400));
    assert_eq!(ta.udp_ec, UdpEc::Redundancy);
    assert_eq!(tb.remote_max_datagram, Some(400));
    assert_eq!(
        count(&w.a, |e| matches!(e, DialogEvent::MediaChanged { .. })),
        1
    );
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::MediaChanged { .. })),
        1
    );
    let ok = w.responses("B", "INVITE").pop().unwrap();
    assert!(String::from_utf8_lossy(&ok.body).contains("m=image 50002 udptl t38"));
    assert_eq!(w.requests("A", "ACK").len(), 2);
}

#[test]
fn reinvite_answered_488_keeps_the_call_and_its_audio() {
    let mut w = World::new();
    w.b.app.offers = OfferReply::Accept(Some(Policy {
        accept_t38: false,
        ..Policy::default()
    }));
    let (ida, idb) = w.established();
    let audio_before = w.a.dl.agreed(ida).cloned();
    w.on_a(|dl, tl, now| dl.reinvite(now, tl, ida, OfferMedia::T38))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    let resp = w.responses("B", "INVITE").pop().unwrap();
    assert_eq!(resp.status, StatusCode::NOT_ACCEPTABLE_HERE);
    assert!(resp
        .headers
        .get(&HeaderName::Warning)
        .unwrap()
        .starts_with("304 "));
    let rejected = w.a.events.iter().find_map(|(_, e)| match e {
        DialogEvent::ReinviteRejected {
            code, ours, media, ..
        } => Some((*code, *ours, media.clone())),
        _ => None,
    });
    assert_eq!(
        rejected,
        Some((StatusCode::NOT_ACCEPTABLE_HERE, true, audio_before.clone()))
    );
    assert!(matches!(
        w.b.events.last().unwrap().1,
        DialogEvent::ReinviteRejected { ours: false, .. }
    ));
    assert_eq!(w.a.dl.agreed(ida).cloned(), audio_before);
    assert!(matches!(w.b.dl.agreed(idb), Some(Agreed::Audio(_))));
    assert_eq!(ended(&w.a), None);
    assert_eq!(ended(&w.b), None);
    // The call goes on: the next BYE is in the same dialog with the next CSeq.
    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.requests("A", "BYE")[0].headers.cseq().unwrap().seq, 3);
    assert_eq!(w.responses("B", "BYE")[0].status, StatusCode::OK);
}

#[test]
fn callee_can_reinvite_too() {
    let mut w = World::new();
    let (ida, idb) = w.established();
    w.on_b(|dl, tl, now| dl.reinvite(now, tl, idb, OfferMedia::T38))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    let re = &w.requests("B", "INVITE")[0];
    assert_eq!(re.uri.to_string(), format!("sip:a@{A_ADDR}"));
    assert!(matches!(w.a.dl.agreed(ida), Some(Agreed::T38(_))));
    assert!(matches!(w.b.dl.agreed(idb), Some(Agreed::T38(_))));
    assert_eq!(w.requests("B", "ACK").len(), 1);
}

#[test]
fn glare_gets_491_both_ways_then_the_backoff_and_the_retries() {
    let mut w = World::new();
    let (ida, idb) = w.established();
    let t0 = w.ms();
    let now = w.now();
    w.a.dl
        .reinvite(now, &mut w.a.tl, ida, OfferMedia::T38)
        .unwrap();
    w.b.dl
        .reinvite(now, &mut w.b.tl, idb, OfferMedia::T38)
        .unwrap();
    w.run_for(Duration::from_millis(100));
    let a491 = w
        .responses("A", "INVITE")
        .into_iter()
        .filter(|r| r.status == StatusCode::REQUEST_PENDING)
        .count();
    let b491 = w
        .responses("B", "INVITE")
        .into_iter()
        .filter(|r| r.status == StatusCode::REQUEST_PENDING)
        .count();
    assert_eq!((a491, b491), (1, 1));
    w.run_for(Duration::from_secs(6));

    let sent_at = |from: &str| -> Vec<u128> {
        w.wire
            .iter()
            .filter(|m| m.from == from && m.label() == "INVITE")
            .map(|m| m.at_ms.saturating_sub(t0))
            .collect()
    };
    let a_invites = sent_at("A");
    let b_invites = sent_at("B");
    // A's list includes the initial INVITE, sent before t0.
    let a_retry = *a_invites.last().unwrap();
    let b_retry = *b_invites.last().unwrap();
    assert_eq!(a_invites.len(), 3, "{a_invites:?}");
    assert_eq!(b_invites.len(), 2, "{b_invites:?}");
    // The 491 arrived 10 ms after the re-INVITEs crossed; the owner of the Call-ID (A, the
    // caller) waits 2.1–4 s, the other 0–2 s (RFC 3261 §14.1).
    assert!((20..=2020).contains(&b_retry), "B retried at {b_retry} ms");
    assert!(
        (2120..=4020).contains(&a_retry),
        "A retried at {a_retry} ms"
    );
    // B's retry went first and succeeded; A's retry followed and succeeded too. A's answer
    // to B's offer had the same content as A's own T.38 offer, so A's retry carries an
    // unchanged o= version and B answers it as a refresh, without asking its application.
    let changed = |ua: &Ua| count(ua, |e| matches!(e, DialogEvent::MediaChanged { .. }));
    assert_eq!((changed(&w.a), changed(&w.b)), (2, 1));
    let oks: Vec<u32> = w
        .responses("B", "INVITE")
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .map(|r| r.headers.cseq().unwrap().seq)
        .collect();
    assert_eq!(oks, [1, 3], "the initial INVITE and A's retry");
    assert!(matches!(w.a.dl.agreed(ida), Some(Agreed::T38(_))));
    assert!(matches!(w.b.dl.agreed(idb), Some(Agreed::T38(_))));
    assert_eq!(ended(&w.a), None);
}

fn sdp_less_reinvite(w: &World) -> Request {
    // Built by hand from A's ACK: the same dialog, a new CSeq and branch, no body.
    let mut re = w.requests("A", "ACK").last().unwrap().clone();
    re.method = Method::Invite;
    re.headers.set(HeaderName::CSeq, "10 INVITE");
    re.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/UDP {A_ADDR};branch=z9hG4bKsdpless;rport"),
    );
    re.headers
        .push(HeaderName::Contact, format!("<sip:a@{A_ADDR}>"));
    re.headers.remove(&HeaderName::ContentType);
    re.body.clear();
    re
}

#[test]
fn sdp_less_reinvite_during_t38_is_answered_with_identical_sdp() {
    let mut w = World::new();
    let (ida, idb) = w.established();
    w.on_a(|dl, tl, now| dl.reinvite(now, tl, ida, OfferMedia::T38))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    let t38_answer = w.responses("B", "INVITE").pop().unwrap().body;
    let agreed_before = w.b.dl.agreed(idb).cloned();
    let events_before = w.b.events.len();

    let re = sdp_less_reinvite(&w);
    let now = w.now();
    let branch = w.a.tl.new_branch();
    let mut re = re;
    re.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/UDP {A_ADDR};branch={branch};rport"),
    );
    w.a.tl.send_request(now, re.clone(), peer(B_ADDR)).unwrap();
    w.run_for(Duration::from_millis(100));
    let ok = w.responses("B", "INVITE").pop().unwrap();
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.cseq().unwrap().seq, 10);
    assert_eq!(ok.body, t38_answer, "same bytes, same o= version");

    // A answers in the ACK with its current SDP; nothing changes at B.
    let mut ack = w.requests("A", "ACK").last().unwrap().clone();
    ack.headers.set(HeaderName::CSeq, "10 ACK");
    ack.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/UDP {A_ADDR};branch=z9hG4bKack10;rport"),
    );
    let local = w.a.dl.local_sdp(ida).unwrap().to_bytes();
    ack.headers.set(HeaderName::ContentType, "application/sdp");
    ack.body = local;
    w.a.tl.send_stateless(ack, peer(B_ADDR));
    w.run_for(Duration::from_secs(5));
    let oks = w
        .responses("B", "INVITE")
        .into_iter()
        .filter(|r| r.headers.cseq().unwrap().seq == 10)
        .count();
    assert_eq!(oks, 1, "the ACK stopped the 2xx retransmissions");
    assert_eq!(w.b.dl.agreed(idb).cloned(), agreed_before);
    let new_events: Vec<_> = w.b.events[events_before..]
        .iter()
        .map(|(_, e)| e.clone())
        .collect();
    assert!(
        new_events
            .iter()
            .all(|e| matches!(e, DialogEvent::Refreshed { .. })),
        "{new_events:?}"
    );
    assert_eq!(ended(&w.b), None);
}

#[test]
fn unchanged_reoffer_is_answered_without_the_application() {
    let mut w = World::new();
    w.b.app.offers = OfferReply::Manual;
    let (_, idb) = w.established();
    let first_answer = w.responses("B", "INVITE").pop().unwrap().body;
    // A's INVITE again, as a re-INVITE: same SDP, same o= version.
    let mut re = sdp_less_reinvite(&w);
    let invite = w.requests("A", "INVITE")[0].clone();
    re.headers.set(HeaderName::ContentType, "application/sdp");
    re.body = invite.body.clone();
    let branch = w.a.tl.new_branch();
    re.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/UDP {A_ADDR};branch={branch};rport"),
    );
    let now = w.now();
    w.a.tl.send_request(now, re, peer(B_ADDR)).unwrap();
    w.run_for(Duration::from_millis(100));
    let ok = w.responses("B", "INVITE").pop().unwrap();
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, first_answer);
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::ReinviteOffered { .. })),
        0
    );
    assert!(matches!(w.b.dl.agreed(idb), Some(Agreed::Audio(_))));
}
