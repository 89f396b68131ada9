//! Our UAC against a hand-driven far end: 3xx redirects (followed, and bounded), a forked
//! INVITE answered twice (the extra dialog gets ACK and BYE), and digest challenges on
//! INVITE (407 from a proxy, 401 from our own UAS) and on BYE.

use std::collections::HashMap;
use std::time::Duration;

use sip::auth::{Credentials, DigestServer, Verdict};
use sip::dialog::{DialogEvent, EndReason, InboundAuth};
use sip::msg::{HeaderName, Request, Response, StatusCode};
use sip::sdp::{Capabilities, LocalSdp, Policy, SessionDescription};
use sip::transaction::TransactionId;

mod dialog_harness;
use dialog_harness::*;

fn answer_body(invite: &Request) -> Vec<u8> {
    let offer = SessionDescription::parse(&invite.body).unwrap();
    let caps = Capabilities::new(ip(B_ADDR), 50000, 50002);
    LocalSdp::new(7, 1)
        .answer(&offer, &caps, &Policy::default())
        .unwrap()
        .sdp
        .to_bytes()
}

fn ok_for(invite: &Request, tag: &str, contact: &str) -> Response {
    let mut r = Response::for_request(invite, StatusCode::OK);
    r.set_to_tag(tag);
    r.headers.push(HeaderName::Contact, format!("<{contact}>"));
    r.headers.push(HeaderName::ContentType, "application/sdp");
    r.body = answer_body(invite);
    r
}

fn raw_world() -> World {
    let mut w = World::new();
    w.raw_b = true;
    w
}

fn respond(w: &mut World, tx: TransactionId, resp: Response) {
    let now = w.now();
    w.b.tl.send_response(now, tx, resp).unwrap();
    w.settle();
}

fn next_request(w: &mut World) -> (TransactionId, Request) {
    w.run_until(Duration::from_secs(2), |w| {
        w.raw_events
            .iter()
            .any(|e| matches!(e, sip::transaction::TransactionEvent::Request { .. }))
    });
    raw_requests(w)
        .into_iter()
        .next()
        .expect("a request reached B")
}

#[test]
fn redirect_is_followed_to_the_best_contact() {
    let mut w = raw_world();
    w.call(call_to_b(false));
    let (tx, invite) = next_request(&mut w);
    let mut moved = Response::for_request(&invite, StatusCode::new(302).unwrap());
    moved.set_to_tag("r1");
    moved
        .headers
        .push(HeaderName::Contact, format!("<sip:fax2@{B_ADDR}>;q=0.5"));
    moved
        .headers
        .push(HeaderName::Contact, format!("<sip:fax3@{B_ADDR}>;q=0.9"));
    respond(&mut w, tx, moved);
    let (tx2, invite2) = next_request(&mut w);
    assert_eq!(invite2.uri.to_string(), format!("sip:fax3@{B_ADDR}"));
    assert_eq!(invite2.headers.cseq().unwrap().seq, 2);
    assert_eq!(
        invite2.headers.call_id().unwrap(),
        invite.headers.call_id().unwrap()
    );
    assert_eq!(
        invite2.headers.from().unwrap().tag(),
        invite.headers.from().unwrap().tag()
    );
    assert!(invite2.headers.to().unwrap().tag().is_none());
    assert_eq!(invite2.body, invite.body);
    respond(
        &mut w,
        tx2,
        ok_for(&invite2, "t1", &format!("sip:fax3@{B_ADDR}")),
    );
    w.run_for(Duration::from_secs(1));
    assert!(w.a.events.iter().any(|(_, e)| matches!(e, DialogEvent::Redirected { target, .. } if target.to_string() == format!("sip:fax3@{B_ADDR}"))));
    assert!(confirmed(&w.a).is_some());
    // One ACK from the transaction for the 302, one from the dialog for the 200.
    let acks = w.requests("A", "ACK");
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[1].headers.cseq().unwrap().seq, 2);
}

#[test]
fn redirects_are_bounded() {
    let mut w = raw_world();
    w.call(call_to_b(false));
    for n in 0..10 {
        let Some((tx, invite)) = ({
            w.run_for(Duration::from_millis(50));
            raw_requests(&mut w)
                .into_iter()
                .find(|(_, r)| r.method.as_str() == "INVITE")
        }) else {
            break;
        };
        let mut moved = Response::for_request(&invite, StatusCode::new(302).unwrap());
        moved
            .headers
            .push(HeaderName::Contact, format!("<sip:hop{n}@{B_ADDR}>"));
        respond(&mut w, tx, moved);
    }
    w.run_for(Duration::from_secs(1));
    assert_eq!(
        w.requests("A", "INVITE").len(),
        6,
        "the first and five redirections"
    );
    assert_eq!(
        ended(&w.a),
        Some(EndReason::Rejected(StatusCode::new(302).unwrap()))
    );
}

#[test]
fn a_second_2xx_from_another_fork_gets_ack_and_bye() {
    let mut w = raw_world();
    let ida = w.call(call_to_b(false));
    let (tx, invite) = next_request(&mut w);
    respond(
        &mut w,
        tx,
        ok_for(&invite, "fork1", &format!("sip:one@{B_ADDR}")),
    );
    let second = ok_for(&invite, "fork2", &format!("sip:two@{B_ADDR}"));
    w.b.tl.send_stateless(second.clone(), peer(A_ADDR));
    w.run_for(Duration::from_millis(100));
    let acks = w.requests("A", "ACK");
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0].headers.to().unwrap().tag(), Some("fork1"));
    assert_eq!(acks[1].headers.to().unwrap().tag(), Some("fork2"));
    assert_eq!(acks[1].uri.to_string(), format!("sip:two@{B_ADDR}"));
    let byes = w.requests("A", "BYE");
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.to().unwrap().tag(), Some("fork2"));
    assert_eq!(byes[0].uri.to_string(), format!("sip:two@{B_ADDR}"));
    assert_eq!(byes[0].headers.cseq().unwrap().seq, 2);
    // The application saw one call, still up on the first fork.
    assert_eq!(
        count(&w.a, |e| matches!(e, DialogEvent::Confirmed { .. })),
        1
    );
    assert_eq!(ended(&w.a), None);
    // The second fork retransmits its 200: the same ACK again, no second BYE.
    w.b.tl.send_stateless(second, peer(A_ADDR));
    w.run_for(Duration::from_millis(100));
    let acks = w.requests("A", "ACK");
    assert_eq!(acks.len(), 3);
    assert_eq!(acks[2], acks[1]);
    assert_eq!(w.requests("A", "BYE").len(), 1);
    // Hanging up goes to the first fork.
    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    let bye = w.requests("A", "BYE").pop().unwrap();
    assert_eq!(bye.headers.to().unwrap().tag(), Some("fork1"));
}

fn proxy() -> DigestServer {
    DigestServer::new("proxy.example", b"proxy secret", std::time::Instant::now())
}

#[test]
fn invite_challenged_with_407_is_retried_with_credentials() {
    let mut w = raw_world();
    let mut server = proxy();
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "wonderland"));
    w.call(params);
    let (tx, invite) = next_request(&mut w);
    let now = w.now();
    assert_eq!(
        server.verify(now, &invite, true, |_| Some("wonderland".into())),
        Verdict::Challenge { stale: false }
    );
    respond(
        &mut w,
        tx,
        server.challenge_response(now, &invite, false, true),
    );
    let (tx2, invite2) = next_request(&mut w);
    assert_eq!(invite2.headers.cseq().unwrap().seq, 2);
    assert_ne!(
        invite2.headers.top_via().unwrap().branch(),
        invite.headers.top_via().unwrap().branch()
    );
    let creds = invite2
        .headers
        .get(&HeaderName::ProxyAuthorization)
        .unwrap();
    assert!(
        creds.contains("algorithm=SHA-256"),
        "strongest offered: {creds}"
    );
    assert!(creds.contains("nc=00000001"));
    let now = w.now();
    assert_eq!(
        server.verify(now, &invite2, true, |_| Some("wonderland".into())),
        Verdict::Authenticated {
            username: "alice".into()
        }
    );
    respond(
        &mut w,
        tx2,
        ok_for(&invite2, "t1", &format!("sip:fax@{B_ADDR}")),
    );
    w.run_for(Duration::from_secs(1));
    assert!(confirmed(&w.a).is_some());
    // The ACK for the 2xx carries the INVITE's credentials (RFC 3261 §13.2.2.4).
    let ack = w.requests("A", "ACK").pop().unwrap();
    assert_eq!(ack.headers.cseq().unwrap().seq, 2);
    assert_eq!(
        ack.headers.get(&HeaderName::ProxyAuthorization),
        Some(creds)
    );
}

#[test]
fn a_second_challenge_for_the_same_credentials_fails_without_looping() {
    let mut w = raw_world();
    let server = proxy();
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "wrong"));
    w.call(params);
    for _ in 0..2 {
        let (tx, invite) = next_request(&mut w);
        let now = w.now();
        respond(
            &mut w,
            tx,
            server.challenge_response(now, &invite, false, true),
        );
    }
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.requests("A", "INVITE").len(), 2);
    assert_eq!(
        ended(&w.a),
        Some(EndReason::Rejected(StatusCode::new(407).unwrap()))
    );
}

fn auth_world() -> World {
    World::with(
        |_| {},
        |c| {
            let mut ia = InboundAuth::new(
                DigestServer::new("fax.example", b"server secret", std::time::Instant::now()),
                HashMap::from([("alice".to_owned(), "wonderland".to_owned())]),
            );
            ia.peers = vec![ip(A_ADDR)];
            c.inbound_auth = Some(ia);
        },
    )
}

#[test]
fn our_uas_challenges_and_our_uac_answers() {
    let mut w = auth_world();
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "wonderland"));
    w.call(params);
    w.run_for(Duration::from_secs(2));
    assert_eq!(
        w.labels("A"),
        ["INVITE", "ACK", "INVITE", "ACK"],
        "challenge, ACK of the 401, authenticated INVITE, ACK of the 200"
    );
    let first = &w.responses("B", "INVITE")[0];
    assert_eq!(first.status.as_u16(), 401);
    assert_eq!(
        first.headers.get_all(&HeaderName::WwwAuthenticate).count(),
        2
    );
    assert!(confirmed(&w.a).is_some() && confirmed(&w.b).is_some());
    assert_eq!(
        count(&w.b, |e| matches!(e, DialogEvent::Incoming { .. })),
        1,
        "the challenged INVITE never reached the application"
    );
}

#[test]
fn wrong_password_gets_403() {
    let mut w = auth_world();
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "guess"));
    w.call(params);
    w.run_for(Duration::from_secs(2));
    assert_eq!(
        w.responses("B", "INVITE").last().unwrap().status.as_u16(),
        403
    );
    assert_eq!(
        ended(&w.a),
        Some(EndReason::Rejected(StatusCode::new(403).unwrap()))
    );
    assert!(w.b.events.is_empty());
}

#[test]
fn bye_challenged_with_401_is_retried() {
    let mut w = raw_world();
    let server = DigestServer::new("carrier.example", b"k", std::time::Instant::now());
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "wonderland"));
    let ida = w.call(params);
    let (tx, invite) = next_request(&mut w);
    respond(
        &mut w,
        tx,
        ok_for(&invite, "t1", &format!("sip:fax@{B_ADDR}")),
    );
    w.run_for(Duration::from_millis(100));
    raw_requests(&mut w);
    w.on_a(|dl, tl, now| dl.bye(now, tl, ida)).unwrap();
    let (tx, bye) = next_request(&mut w);
    assert!(!bye.headers.contains(&HeaderName::Authorization));
    let now = w.now();
    respond(
        &mut w,
        tx,
        server.challenge_response(now, &bye, false, false),
    );
    let (tx2, bye2) = next_request(&mut w);
    assert_eq!(bye2.method.as_str(), "BYE");
    assert_eq!(
        bye2.headers.cseq().unwrap().seq,
        bye.headers.cseq().unwrap().seq + 1
    );
    assert!(bye2.headers.contains(&HeaderName::Authorization));
    respond(&mut w, tx2, Response::for_request(&bye2, StatusCode::OK));
    assert_eq!(ended(&w.a), Some(EndReason::Bye { remote: false }));
}

#[test]
fn reinvite_challenged_with_401_is_retried() {
    let mut w = raw_world();
    let server = DigestServer::new("carrier.example", b"k", std::time::Instant::now());
    let mut params = call_to_b(false);
    params.credentials = Some(Credentials::new("alice", "wonderland"));
    let ida = w.call(params);
    let (tx, invite) = next_request(&mut w);
    respond(
        &mut w,
        tx,
        ok_for(&invite, "t1", &format!("sip:fax@{B_ADDR}")),
    );
    w.run_for(Duration::from_millis(100));
    raw_requests(&mut w);
    w.on_a(|dl, tl, now| dl.reinvite(now, tl, ida, sip::sdp::OfferMedia::T38))
        .unwrap();
    let (tx, re) = next_request(&mut w);
    let now = w.now();
    respond(
        &mut w,
        tx,
        server.challenge_response(now, &re, false, false),
    );
    let (tx2, re2) = next_request(&mut w);
    assert_eq!(re2.method.as_str(), "INVITE");
    assert_eq!(
        re2.headers.cseq().unwrap().seq,
        re.headers.cseq().unwrap().seq + 1
    );
    assert!(re2.headers.contains(&HeaderName::Authorization));
    assert_eq!(re2.body, re.body, "the same offer");
    respond(
        &mut w,
        tx2,
        ok_for(&re2, "t1", &format!("sip:fax@{B_ADDR}")),
    );
    w.run_for(Duration::from_millis(100));
    assert!(matches!(w.a.dl.agreed(ida), Some(sip::sdp::Agreed::T38(_))));
    let ack = w.requests("A", "ACK").pop().unwrap();
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        re2.headers.cseq().unwrap().seq
    );
    assert_eq!(
        ack.headers.get(&HeaderName::Authorization),
        re2.headers.get(&HeaderName::Authorization)
    );
}
