//! RFC 3261 §17.2 server transactions in simulated time: 100 Trying, absorption of
//! retransmissions, Timer G/H/I/J, 2xx retransmission until the ACK (§13.3.1.4), CANCEL
//! matching and response routing.

use std::time::Duration;

use sip::msg::{HeaderName, Message, Method, Response, StatusCode};
use sip::transaction::{Peer, TransactionEvent, Transport};

mod support;
use support::*;

#[test]
fn invite_server_sends_100_after_200ms_and_absorbs_retransmissions() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote1", Transport::Udp);
    let id = new_request_id(&receive(&mut l, &clock, &invite));
    assert!(sent(&mut l).is_empty());
    clock.advance(Duration::from_millis(200));
    l.handle_timeout(clock.now());
    assert_eq!(sent(&mut l), ["SIP/2.0 100 Trying"]);
    assert!(
        receive(&mut l, &clock, &invite).is_empty(),
        "retransmission is not a new request"
    );
    assert_eq!(sent(&mut l), ["SIP/2.0 100 Trying"]);
    l.send_response(clock.now(), id, response_to(&invite, 180, Some("fax1")))
        .unwrap();
    assert_eq!(sent(&mut l), ["SIP/2.0 180 Ringing"]);
    assert!(receive(&mut l, &clock, &invite).is_empty());
    assert_eq!(sent(&mut l), ["SIP/2.0 180 Ringing"]);
}

#[test]
fn invite_server_skips_100_when_the_tu_answers_first() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote2", Transport::Udp);
    let id = new_request_id(&receive(&mut l, &clock, &invite));
    clock.advance(Duration::from_millis(50));
    l.send_response(clock.now(), id, response_to(&invite, 180, Some("fax1")))
        .unwrap();
    clock.advance(Duration::from_millis(500));
    l.handle_timeout(clock.now());
    assert_eq!(sent(&mut l), ["SIP/2.0 180 Ringing"]);
}

#[test]
fn invite_server_timer_g_until_ack_then_timer_i() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote3", Transport::Udp);
    let id = new_request_id(&receive(&mut l, &clock, &invite));
    let busy = response_to(&invite, 486, Some("fax1"));
    l.send_response(clock.now(), id, busy.clone()).unwrap();
    assert_eq!(sent(&mut l), ["SIP/2.0 486 Busy Here"]);
    assert!(
        l.send_response(clock.now(), id, busy).is_err(),
        "one final response only"
    );
    let log = run(&mut clock, &mut l, Duration::from_millis(12000));
    assert_eq!(
        times_sent(&log),
        [500, 1500, 3500, 7500, 11500],
        "G doubles up to T2"
    );
    assert!(receive(&mut l, &clock, &invite).is_empty());
    assert_eq!(
        sent(&mut l),
        ["SIP/2.0 486 Busy Here"],
        "retransmitted INVITE gets the final again"
    );
    let mut ack = request("ACK", "z9hG4bKremote3", Transport::Udp);
    ack.headers
        .set(HeaderName::To, "<sip:fax@203.0.113.5:5060>;tag=fax1");
    assert!(
        receive(&mut l, &clock, &ack).is_empty(),
        "the ACK of a non-2xx stays in the transaction"
    );
    let t0 = clock.elapsed().as_millis();
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(log.len(), 1, "no more retransmissions after the ACK");
    assert_eq!(log[0].0 - t0, 5000, "Timer I = T4");
    assert_eq!(log[0].2, [TransactionEvent::Terminated { id }]);
}

#[test]
fn invite_server_timer_h_without_ack() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote4", Transport::Udp);
    let id = new_request_id(&receive(&mut l, &clock, &invite));
    l.send_response(clock.now(), id, response_to(&invite, 488, Some("fax1")))
        .unwrap();
    sent(&mut l);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    let last = log.last().unwrap();
    assert_eq!(last.0, 32000);
    assert_eq!(
        last.2,
        [
            TransactionEvent::Timeout { id },
            TransactionEvent::Terminated { id }
        ]
    );
}

#[test]
fn invite_server_retransmits_2xx_until_the_ack() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote5", Transport::Udp);
    let id = new_request_id(&receive(&mut l, &clock, &invite));
    l.send_response(clock.now(), id, response_to(&invite, 200, Some("fax1")))
        .unwrap();
    assert_eq!(sent(&mut l), ["SIP/2.0 200 OK"]);
    let log = run(&mut clock, &mut l, Duration::from_millis(4000));
    assert_eq!(times_sent(&log), [500, 1500, 3500]);
    assert!(receive(&mut l, &clock, &invite).is_empty());
    assert!(
        sent(&mut l).is_empty(),
        "INVITE retransmissions are absorbed once accepted"
    );
    // The ACK for a 2xx has a branch of its own.
    let mut ack = request("ACK", "z9hG4bKremoteACK", Transport::Udp);
    ack.headers
        .set(HeaderName::To, "<sip:fax@203.0.113.5:5060>;tag=fax1");
    let ev = receive(&mut l, &clock, &ack);
    assert!(matches!(&ev[..], [TransactionEvent::Ack { accepted: Some(i), .. }] if *i == id));
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(times_sent(&log), Vec::<u128>::new());
    assert_eq!(log.last().unwrap().0, 32000, "Timer L");
    assert_eq!(log.last().unwrap().2, [TransactionEvent::Terminated { id }]);
}

#[test]
fn invite_server_gives_up_on_an_unacknowledged_2xx() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote6", Transport::Udp);
    let id = new_request_id(&receive(&mut l, &clock, &invite));
    clock.advance(Duration::from_millis(300));
    l.send_response(clock.now(), id, response_to(&invite, 200, Some("fax1")))
        .unwrap();
    sent(&mut l);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    let rel: Vec<u128> = times_sent(&log).into_iter().map(|t| t - 300).collect();
    assert_eq!(
        rel,
        [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    let last = log.last().unwrap();
    assert_eq!(last.0 - 300, 32000);
    assert_eq!(
        last.2,
        [
            TransactionEvent::AckTimeout { id },
            TransactionEvent::Terminated { id }
        ]
    );
}

#[test]
fn invite_server_2xx_on_tcp_is_sent_once() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote7", Transport::Tcp);
    l.handle_message(clock.now(), invite.clone().into(), peer(Transport::Tcp));
    let id = new_request_id(&events(&mut l));
    l.send_response(clock.now(), id, response_to(&invite, 200, Some("fax1")))
        .unwrap();
    sent(&mut l);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(times_sent(&log), Vec::<u128>::new());
    assert_eq!(
        log.last().unwrap().2,
        [
            TransactionEvent::AckTimeout { id },
            TransactionEvent::Terminated { id }
        ]
    );
}

#[test]
fn non_invite_server_absorbs_then_repeats_then_timer_j() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let opts = request("OPTIONS", "z9hG4bKremote8", Transport::Udp);
    let id = new_request_id(&receive(&mut l, &clock, &opts));
    assert!(receive(&mut l, &clock, &opts).is_empty());
    assert!(
        sent(&mut l).is_empty(),
        "Trying: retransmissions are absorbed silently"
    );
    l.send_response(clock.now(), id, response_to(&opts, 200, Some("fax1")))
        .unwrap();
    assert_eq!(sent(&mut l), ["SIP/2.0 200 OK"]);
    clock.advance(Duration::from_secs(10));
    assert!(receive(&mut l, &clock, &opts).is_empty());
    assert_eq!(sent(&mut l), ["SIP/2.0 200 OK"]);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(
        (log[0].0, &log[0].2[..]),
        (32000, &[TransactionEvent::Terminated { id }][..]),
        "Timer J"
    );
}

#[test]
fn non_invite_server_on_tcp_ends_with_the_final_response() {
    let (clock, mut l) = (ManualClock::new(), layer());
    let opts = request("OPTIONS", "z9hG4bKremote9", Transport::Tcp);
    l.handle_message(clock.now(), opts.clone().into(), peer(Transport::Tcp));
    let id = new_request_id(&events(&mut l));
    l.send_response(clock.now(), id, response_to(&opts, 200, Some("fax1")))
        .unwrap();
    l.handle_timeout(clock.now());
    assert_eq!(events(&mut l), [TransactionEvent::Terminated { id }]);
}

#[test]
fn cancel_finds_its_invite() {
    let (clock, mut l) = (ManualClock::new(), layer());
    let invite = request("INVITE", "z9hG4bKremote10", Transport::Udp);
    let invite_id = new_request_id(&receive(&mut l, &clock, &invite));
    let cancel = request("CANCEL", "z9hG4bKremote10", Transport::Udp);
    let ev = receive(&mut l, &clock, &cancel);
    match &ev[..] {
        [TransactionEvent::Request {
            id,
            cancels,
            request,
            ..
        }] => {
            assert_ne!(*id, invite_id);
            assert_eq!(*cancels, Some(invite_id));
            assert_eq!(request.method, Method::Cancel);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc2543_requests_without_branch_still_match() {
    let (clock, mut l) = (ManualClock::new(), layer());
    let mut invite = request("INVITE", "unused", Transport::Udp);
    invite
        .headers
        .set(HeaderName::Via, format!("SIP/2.0/UDP {THEM}"));
    new_request_id(&receive(&mut l, &clock, &invite));
    assert!(receive(&mut l, &clock, &invite).is_empty());
}

#[test]
fn responses_follow_via_received_and_rport() {
    let (clock, mut l) = (ManualClock::new(), layer());
    let source = Peer {
        addr: "198.51.100.9:40000".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut opts = request("OPTIONS", "z9hG4bKnat", Transport::Udp);
    opts.headers.set(
        HeaderName::Via,
        "SIP/2.0/UDP pbx.example.com:5070;branch=z9hG4bKnat;rport",
    );
    l.handle_message(clock.now(), opts.clone().into(), source);
    let ev = events(&mut l);
    let TransactionEvent::Request { id, request, .. } = &ev[0] else {
        panic!()
    };
    let via = request.headers.top_via().unwrap();
    assert_eq!(via.received(), Some("198.51.100.9"));
    assert_eq!(via.rport(), Some(Some(40000)));
    l.send_response(
        clock.now(),
        *id,
        Response::for_request(request, StatusCode::OK),
    )
    .unwrap();
    let t = l.poll_transmit().unwrap();
    assert_eq!(t.peer, source, "rport: back to the source port");
    let Message::Response(r) = t.message else {
        panic!()
    };
    assert_eq!(
        r.headers.get(&HeaderName::Via),
        Some(
            "SIP/2.0/UDP pbx.example.com:5070;branch=z9hG4bKnat;rport=40000;received=198.51.100.9"
        )
    );

    opts.headers.set(
        HeaderName::Via,
        "SIP/2.0/UDP pbx.example.com:5070;branch=z9hG4bKnat2",
    );
    l.handle_message(clock.now(), opts.into(), source);
    let ev = events(&mut l);
    let TransactionEvent::Request { id, request, .. } = &ev[0] else {
        panic!()
    };
    l.send_response(
        clock.now(),
        *id,
        Response::for_request(request, StatusCode::OK),
    )
    .unwrap();
    assert_eq!(
        l.poll_transmit().unwrap().peer.addr,
        "198.51.100.9:5070".parse().unwrap(),
        "sent-by port"
    );
}
