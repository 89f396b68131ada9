//! Session timers (RFC 4028), reliable provisional responses (RFC 3262) and UPDATE
//! (RFC 3311) between two of our user agents, in simulated time.

use std::time::Duration;

use sip::dialog::{DialogEvent, EndReason, RefreshMethod};
use sip::msg::{HeaderName, Method, StatusCode};
use sip::sdp::OfferMedia;

mod dialog_harness;
use dialog_harness::*;

fn short_timer(cfg: &mut sip::dialog::DialogConfig) {
    cfg.session_timer.session_expires = Some(120);
}

fn sent_at(w: &World, from: &str, label: &str) -> Vec<u128> {
    w.wire
        .iter()
        .filter(|m| m.from == from && m.label() == label)
        .map(|m| m.at_ms)
        .collect()
}

#[test]
fn refresher_updates_at_half_the_interval_and_the_session_lives_on() {
    let mut w = World::with(short_timer, |_| {});
    w.established();
    let ok = &w.responses("B", "INVITE")[1];
    assert_eq!(
        ok.headers.get(&HeaderName::SessionExpires),
        Some("120;refresher=uac")
    );
    assert!(ok.headers.require().contains(&"timer"));
    let answered = w
        .wire
        .iter()
        .find(|m| m.label() == "200 INVITE")
        .unwrap()
        .at_ms;
    w.run_for(Duration::from_secs(600));
    let updates = sent_at(&w, "A", "UPDATE");
    assert!(updates.len() >= 9, "{updates:?}");
    // The first refresh is half an interval after A received the 200 (10 ms after it left B).
    assert_eq!(updates[0], answered + 10 + 60_000);
    let update = &w.requests("A", "UPDATE")[0];
    assert!(update.body.is_empty(), "a refresh UPDATE carries no offer");
    assert_eq!(
        update.headers.get(&HeaderName::SessionExpires),
        Some("120;refresher=uac")
    );
    assert_eq!(update.headers.get(&HeaderName::MinSe), Some("90"));
    let ok = &w.responses("B", "UPDATE")[0];
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.headers.get(&HeaderName::SessionExpires),
        Some("120;refresher=uac")
    );
    assert!(ok.headers.contains(&HeaderName::Contact));
    assert_eq!(ended(&w.a), None);
    assert_eq!(ended(&w.b), None);
    assert!(w.requests("A", "BYE").is_empty() && w.requests("B", "BYE").is_empty());
    assert!(
        count(&w.a, |e| matches!(
            e,
            DialogEvent::Refreshed { interval: 120, .. }
        )) >= 9
    );
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::MediaChanged { .. })),
        0
    );
}

#[test]
fn refresh_by_reinvite_during_t38_repeats_the_sdp_byte_for_byte() {
    let mut w = World::with(
        |c| {
            short_timer(c);
            c.session_timer.refresh = RefreshMethod::Reinvite;
        },
        |_| {},
    );
    let (ida, _) = w.established();
    w.on_a(|dl, tl, now| dl.reinvite(now, tl, ida, OfferMedia::T38))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    let t38_offer = w.requests("A", "INVITE")[1].body.clone();
    let t38_answer = w.responses("B", "INVITE").pop().unwrap().body;
    w.run_for(Duration::from_secs(200));
    let invites = w.requests("A", "INVITE");
    assert!(invites.len() >= 5, "{} INVITEs", invites.len());
    for refresh in &invites[2..] {
        assert_eq!(refresh.body, t38_offer, "refresh offer changed");
    }
    for ok in w
        .responses("B", "INVITE")
        .iter()
        .filter(|r| r.headers.cseq().unwrap().seq > 2 && r.status == StatusCode::OK)
    {
        assert_eq!(ok.body, t38_answer, "refresh answer changed");
    }
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::ReinviteOffered { .. })),
        1
    );
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::MediaChanged { .. })),
        1
    );
    assert_eq!(ended(&w.b), None);
}

#[test]
fn missing_refresh_ends_the_session_with_bye() {
    let mut w = World::with(short_timer, |_| {});
    w.drop = Box::new(|m| m.label() == "UPDATE");
    w.established();
    let answered = w
        .wire
        .iter()
        .find(|m| m.label() == "200 INVITE")
        .unwrap()
        .at_ms;
    w.run_for(Duration::from_secs(200));
    // RFC 4028 §10: BYE at the interval minus min(32 s, interval/3).
    let byes = sent_at(&w, "B", "BYE");
    assert_eq!(byes, [answered + 88_000]);
    assert_eq!(ended(&w.b), Some(EndReason::SessionExpired));
    // A's own guard expires at the same instant (it received the 200 10 ms later and the
    // BYE takes 10 ms), so either way A is down by then.
    assert!(matches!(
        ended(&w.a),
        Some(EndReason::SessionExpired | EndReason::Bye { remote: true })
    ));
}

#[test]
fn too_small_session_interval_gets_422_and_a_retry_with_min_se() {
    let mut w = World::with(short_timer, |c| c.session_timer.min_se = 300);
    w.established();
    let first = &w.responses("B", "INVITE")[0];
    assert_eq!(first.status.as_u16(), 422);
    assert_eq!(first.headers.get(&HeaderName::MinSe), Some("300"));
    let invites = w.requests("A", "INVITE");
    assert_eq!(invites.len(), 2);
    assert_eq!(invites[1].headers.cseq().unwrap().seq, 2);
    assert_eq!(
        invites[1].headers.get(&HeaderName::SessionExpires),
        Some("300")
    );
    assert_eq!(invites[1].headers.get(&HeaderName::MinSe), Some("300"));
    let ok = w.responses("B", "INVITE").pop().unwrap();
    assert_eq!(
        ok.headers.get(&HeaderName::SessionExpires),
        Some("300;refresher=uac")
    );
}

#[test]
fn reliable_ringing_is_retransmitted_until_prack() {
    let mut w = World::with(|_| {}, |c| c.reliable_provisional = true);
    w.b.app.answer = None;
    let mut dropped_prack = false;
    w.drop = Box::new(move |m| {
        if m.label() == "PRACK" && !dropped_prack {
            dropped_prack = true;
            return true;
        }
        false
    });
    w.call(call_to_b(false));
    w.run_for(Duration::from_secs(5));
    let invite = &w.requests("A", "INVITE")[0];
    assert!(invite.headers.supported().contains(&"100rel"));
    let ringing: Vec<_> = w
        .responses("B", "INVITE")
        .into_iter()
        .filter(|r| r.status == StatusCode::RINGING)
        .collect();
    let rseq = ringing[0]
        .headers
        .get(&HeaderName::RSeq)
        .unwrap()
        .to_owned();
    assert!(ringing[0].headers.require().contains(&"100rel"));
    // The first PRACK was lost: B retransmitted 180 once at T1 before A's PRACK
    // retransmission (also at T1) got through, then stopped.
    assert_eq!(ringing.len(), 2, "{:?}", sent_at(&w, "B", "180 INVITE"));
    assert!(ringing
        .iter()
        .all(|r| r.headers.get(&HeaderName::RSeq) == Some(rseq.as_str())));
    let pracks = w.requests("A", "PRACK");
    assert_eq!(pracks.len(), 1, "one PRACK got through");
    assert_eq!(
        pracks[0].headers.get(&HeaderName::RAck),
        Some(format!("{rseq} 1 INVITE").as_str())
    );
    assert_eq!(pracks[0].headers.cseq().unwrap().seq, 2);
    assert_eq!(w.responses("B", "PRACK")[0].status, StatusCode::OK);
    assert_eq!(count(&w.a, |e| matches!(e, DialogEvent::Early { .. })), 1);
    // Now B answers; the call completes.
    let idb = match &w.b.events[0].1 {
        DialogEvent::Incoming { id, .. } => *id,
        e => panic!("{e:?}"),
    };
    w.on_b(|dl, tl, now| dl.accept(now, tl, idb, media_b()))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    assert!(confirmed(&w.a).is_some() && confirmed(&w.b).is_some());
}

#[test]
fn require_100rel_forces_reliable_18x_and_no_prack_means_500() {
    let mut w = World::new();
    w.b.app.answer = None;
    w.drop = Box::new(|m| m.label() == "PRACK");
    let mut params = call_to_b(false);
    params.headers.push((HeaderName::Require, "100rel".into()));
    w.call(params);
    w.run_for(Duration::from_secs(40));
    let ringing = sent_at(&w, "B", "180 INVITE");
    // First at once, then T1, 2T1, 4T1 … (RFC 3262 §3), until 64·T1.
    let first = ringing[0];
    let gaps: Vec<u128> = ringing.iter().map(|t| t - first).collect();
    assert_eq!(gaps, [0, 500, 1500, 3500, 7500, 15500, 31500]);
    let last = w.responses("B", "INVITE").pop().unwrap();
    assert_eq!(last.status.as_u16(), 500);
    assert_eq!(ended(&w.b), Some(EndReason::Timeout));
    assert_eq!(
        ended(&w.a),
        Some(EndReason::Rejected(StatusCode::new(500).unwrap()))
    );
}

#[test]
fn update_in_an_early_dialog_is_answered() {
    let mut w = World::with(|_| {}, |c| c.reliable_provisional = true);
    w.b.app.answer = None;
    w.call(call_to_b(false));
    w.run_for(Duration::from_secs(1));
    let mut update = w.requests("A", "PRACK")[0].clone();
    update.method = Method::Update;
    update.headers.remove(&HeaderName::RAck);
    update.headers.set(HeaderName::CSeq, "3 UPDATE");
    let branch = w.a.tl.new_branch();
    update.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/UDP {A_ADDR};branch={branch};rport"),
    );
    update
        .headers
        .push(HeaderName::Contact, format!("<sip:a@{A_ADDR}>"));
    update
        .headers
        .push(HeaderName::SessionExpires, "600;refresher=uac");
    let now = w.now();
    w.a.tl.send_request(now, update, peer(B_ADDR)).unwrap();
    w.run_for(Duration::from_millis(100));
    let ok = w.responses("B", "UPDATE").pop().unwrap();
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.headers.get(&HeaderName::SessionExpires),
        Some("600;refresher=uac")
    );
    assert!(ok.headers.contains(&HeaderName::Contact));
    assert_eq!(ended(&w.b), None);
}
