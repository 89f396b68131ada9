//! Inbound digest authentication beyond the first INVITE: 407 proxy-style challenges, the
//! in-dialog requests (re-INVITE, BYE) of peers that must authenticate, and who is exempt
//! (sources outside the list; in-dialog requests unless configured; CANCEL).

use std::collections::HashMap;
use std::time::Duration;

use sip::auth::{Credentials, DigestServer};
use sip::dialog::{DialogEvent, EndReason, InboundAuth};
use sip::msg::HeaderName;
use sip::sdp::OfferMedia;

mod dialog_harness;
use dialog_harness::*;

/// B challenges A (and only A) with the given style.
fn world(proxy: bool, in_dialog: bool, peers: Vec<std::net::IpAddr>) -> World {
    World::with(
        |_| {},
        |c| {
            let mut ia = InboundAuth::new(
                DigestServer::new("fax.example", b"server secret", std::time::Instant::now()),
                HashMap::from([("alice".to_owned(), "wonderland".to_owned())]),
            );
            ia.peers = peers;
            ia.proxy = proxy;
            ia.in_dialog = in_dialog;
            c.inbound_auth = Some(ia);
        },
    )
}

fn call_with_credentials(w: &mut World) -> (sip::dialog::DialogId, sip::dialog::DialogId) {
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "wonderland"));
    let ida = w.call(params);
    assert!(
        w.run_until(Duration::from_secs(5), |w| confirmed(&w.a).is_some()
            && confirmed(&w.b).is_some())
    );
    (ida, confirmed(&w.b).unwrap())
}

fn codes(w: &World, from: &str, method: &str) -> Vec<u16> {
    w.responses(from, method)
        .iter()
        .map(|r| r.status.as_u16())
        .collect()
}

#[test]
fn proxy_style_challenge_is_a_407_answered_with_proxy_authorization() {
    let mut w = world(true, false, vec![ip(A_ADDR)]);
    call_with_credentials(&mut w);
    let first = &w.responses("B", "INVITE")[0];
    assert_eq!(first.status.as_u16(), 407);
    assert_eq!(
        first
            .headers
            .get_all(&HeaderName::ProxyAuthenticate)
            .count(),
        2,
        "SHA-256 and MD5"
    );
    assert!(!first.headers.contains(&HeaderName::WwwAuthenticate));
    let invites = w.requests("A", "INVITE");
    assert_eq!(invites.len(), 2);
    assert!(invites[1].headers.contains(&HeaderName::ProxyAuthorization));
    assert!(!invites[1].headers.contains(&HeaderName::Authorization));
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::Incoming { .. })),
        1
    );
}

#[test]
fn in_dialog_requests_are_verified_and_challenged_when_configured() {
    let mut w = world(false, true, vec![ip(A_ADDR)]);
    let (ida, _) = call_with_credentials(&mut w);
    w.on_a(|dl, tl, now| dl.reinvite(now, tl, ida, OfferMedia::T38))
        .unwrap();
    w.run_for(Duration::from_secs(1));
    // The re-INVITE carries credentials for the nonce A already holds (nonce count 3: the
    // INVITE used 1, its ACK 2), and B verifies them before the application sees the offer.
    let reinvite = &w.requests("A", "INVITE")[2];
    let auth =
        sip::auth::Authorization::parse(reinvite.headers.get(&HeaderName::Authorization).unwrap())
            .unwrap();
    assert_eq!(auth.nc, Some(3));
    assert_eq!(codes(&w, "B", "INVITE"), [401, 180, 200, 200]);
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::ReinviteOffered { .. })),
        1
    );
    assert_eq!(
        count(&w.a, |e| matches!(e, DialogEvent::MediaChanged { .. })),
        1
    );

    // Six minutes on, the nonce is past its five-minute life: the BYE is challenged with
    // stale=true and retried with a fresh nonce.
    w.run_for(Duration::from_secs(360));
    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    assert_eq!(codes(&w, "B", "BYE"), [401, 200]);
    let challenge = w.responses("B", "BYE")[0].clone();
    assert!(challenge
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .contains("stale=true"));
    let byes = w.requests("A", "BYE");
    assert_eq!(byes.len(), 2);
    assert_eq!(
        byes[1].headers.cseq().unwrap().seq,
        byes[0].headers.cseq().unwrap().seq + 1
    );
    assert_eq!(ended(&w.a), Some(EndReason::Bye { remote: false }));
    assert_eq!(ended(&w.b), Some(EndReason::Bye { remote: true }));
}

#[test]
fn an_in_dialog_request_without_credentials_is_not_processed() {
    // B places the call to A; A must authenticate its requests to B, and has no
    // credentials, so its BYE is challenged and the call stays up at B.
    let mut w = world(false, true, vec![ip(A_ADDR)]);
    w.a.app.answer = Some(media_a());
    let mut params = call_to_b(false);
    params.target = sip::msg::Uri::parse(&format!("sip:sender@{A_ADDR}")).unwrap();
    params.from = sip::msg::NameAddr::parse(&format!("<sip:fax@{B_ADDR}>")).unwrap();
    params.to = sip::msg::NameAddr::parse(&format!("<sip:sender@{A_ADDR}>")).unwrap();
    params.peer = peer(A_ADDR);
    params.media = media_b();
    let idb = w.on_b(|dl, tl, now| dl.invite(now, tl, params)).unwrap();
    assert!(
        w.run_until(Duration::from_secs(5), |w| confirmed(&w.a).is_some()
            && confirmed(&w.b).is_some())
    );
    let ida = confirmed(&w.a).unwrap();
    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    assert_eq!(codes(&w, "B", "BYE"), [401]);
    assert_eq!(ended(&w.b), None, "B's call goes on");
    assert!(w.b.dl.agreed(idb).is_some());
}

#[test]
fn in_dialog_requests_pass_unless_configured() {
    let mut w = world(false, false, vec![ip(A_ADDR)]);
    let (ida, _) = call_with_credentials(&mut w);
    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    assert_eq!(codes(&w, "B", "BYE"), [200]);
    assert_eq!(ended(&w.b), Some(EndReason::Bye { remote: true }));
}

#[test]
fn sources_outside_the_list_are_not_challenged() {
    let mut w = world(false, true, vec![ip("203.0.113.1:5060")]);
    let (ida, _) = w.established();
    assert_eq!(codes(&w, "B", "INVITE"), [180, 200]);
    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    assert_eq!(codes(&w, "B", "BYE"), [200]);
}

#[test]
fn cancel_is_never_challenged() {
    let mut w = world(false, true, vec![ip(A_ADDR)]);
    w.b.app.answer = None;
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "wonderland"));
    let ida = w.call(params);
    w.run_for(Duration::from_millis(200));
    assert!(w
        .responses("B", "INVITE")
        .iter()
        .any(|r| r.status.as_u16() == 180));
    w.on_a(|dl, tl, now| dl.cancel(now, tl, ida)).unwrap();
    w.run_for(Duration::from_secs(1));
    assert_eq!(codes(&w, "B", "CANCEL"), [200]);
    assert_eq!(ended(&w.a), Some(EndReason::Cancel));
}
