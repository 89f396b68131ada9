//! RFC 3261 §17.1 client transactions in simulated time: Timer A/B/D/E/F/K/M instants,
//! the ACK for a non-2xx final, 2xx passed to the TU.

use std::time::Duration;

use sip::msg::{HeaderName, Message, Method};
use sip::transaction::{TimerConfig, TransactionEvent, TransactionLayer, Transport};

mod support;
use support::*;

#[test]
fn invite_client_timer_a_doubles_and_timer_b_times_out() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let id = l
        .send_request(
            clock.now(),
            request("INVITE", &branch, Transport::Udp),
            peer(Transport::Udp),
        )
        .unwrap();
    assert_eq!(sent(&mut l), ["INVITE sip:fax@203.0.113.5:5060 SIP/2.0"]);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(times_sent(&log), [500, 1500, 3500, 7500, 15500, 31500]);
    let last = log.last().unwrap();
    assert_eq!(last.0, 32000);
    assert_eq!(
        last.2,
        [
            TransactionEvent::Timeout { id },
            TransactionEvent::Terminated { id }
        ]
    );
    assert!(l.is_empty());
}

#[test]
fn invite_client_on_tcp_does_not_retransmit() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let id = l
        .send_request(
            clock.now(),
            request("INVITE", &branch, Transport::Tcp),
            peer(Transport::Tcp),
        )
        .unwrap();
    sent(&mut l);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, 32000);
    assert_eq!(log[0].2[0], TransactionEvent::Timeout { id });
}

#[test]
fn configurable_t1() {
    let mut clock = ManualClock::new();
    let cfg = TimerConfig {
        t1: Duration::from_millis(100),
        ..TimerConfig::default()
    };
    let mut l = TransactionLayer::new(cfg, 1);
    let branch = l.new_branch();
    l.send_request(
        clock.now(),
        request("INVITE", &branch, Transport::Udp),
        peer(Transport::Udp),
    )
    .unwrap();
    sent(&mut l);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(times_sent(&log), [100, 300, 700, 1500, 3100, 6300]);
    assert_eq!(log.last().unwrap().0, 6400, "Timer B = 64·T1");
}

#[test]
fn invite_client_acks_a_non_2xx_final_with_the_same_branch() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let invite = request("INVITE", &branch, Transport::Udp);
    let id = l
        .send_request(clock.now(), invite.clone(), peer(Transport::Udp))
        .unwrap();
    sent(&mut l);
    clock.advance(Duration::from_millis(100));
    l.handle_message(
        clock.now(),
        response_to(&invite, 100, None).into(),
        peer(Transport::Udp),
    );
    assert!(matches!(
        &events(&mut l)[..],
        [TransactionEvent::Response { .. }]
    ));
    // Proceeding: no more retransmissions.
    clock.advance(Duration::from_secs(5));
    l.handle_timeout(clock.now());
    assert!(sent(&mut l).is_empty());

    let busy = response_to(&invite, 486, Some("callee7"));
    l.handle_message(clock.now(), busy.clone().into(), peer(Transport::Udp));
    let mut tx = std::iter::from_fn(|| l.poll_transmit()).collect::<Vec<_>>();
    assert_eq!(tx.len(), 1);
    let Message::Request(ack) = tx.remove(0).message else {
        panic!("ACK expected")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(
        ack.headers.top_via().unwrap().branch(),
        Some(branch.as_str())
    );
    assert_eq!(ack.headers.count(&HeaderName::Via), 1);
    assert_eq!(ack.headers.cseq().unwrap().to_string(), "1 ACK");
    assert_eq!(ack.headers.to().unwrap().tag(), Some("callee7"));
    assert_eq!(
        ack.headers.get(&HeaderName::Route),
        Some("<sip:proxy.example;lr>")
    );
    let ev = events(&mut l);
    assert!(
        matches!(&ev[..], [TransactionEvent::Response { response, .. }] if response.status.as_u16() == 486)
    );

    // A retransmitted 486 gets the ACK again and is not passed up.
    l.handle_message(clock.now(), busy.into(), peer(Transport::Udp));
    assert_eq!(sent(&mut l), [format!("ACK sip:fax@{THEM} SIP/2.0")]);
    assert!(events(&mut l).is_empty());
    let t0 = clock.elapsed();
    let log = run(&mut clock, &mut l, Duration::from_secs(120));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0 - t0.as_millis(), 32000, "Timer D");
    assert_eq!(log[0].2, [TransactionEvent::Terminated { id }]);
}

#[test]
fn invite_client_on_tcp_ends_at_once_after_the_ack() {
    let (clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let invite = request("INVITE", &branch, Transport::Tcp);
    let id = l
        .send_request(clock.now(), invite.clone(), peer(Transport::Tcp))
        .unwrap();
    sent(&mut l);
    l.handle_message(
        clock.now(),
        response_to(&invite, 503, Some("x")).into(),
        peer(Transport::Tcp),
    );
    assert_eq!(sent(&mut l).len(), 1);
    events(&mut l);
    l.handle_timeout(clock.now());
    assert_eq!(events(&mut l), [TransactionEvent::Terminated { id }]);
}

#[test]
fn invite_client_passes_every_2xx_up_until_timer_m() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let invite = request("INVITE", &branch, Transport::Udp);
    let id = l
        .send_request(clock.now(), invite.clone(), peer(Transport::Udp))
        .unwrap();
    sent(&mut l);
    let ok = response_to(&invite, 200, Some("callee"));
    l.handle_message(clock.now(), ok.clone().into(), peer(Transport::Udp));
    l.handle_message(clock.now(), ok.clone().into(), peer(Transport::Udp));
    assert!(
        sent(&mut l).is_empty(),
        "the ACK for a 2xx belongs to the dialog"
    );
    let ev = events(&mut l);
    assert_eq!(ev.len(), 2);
    assert!(ev
        .iter()
        .all(|e| matches!(e, TransactionEvent::Response { id: i, .. } if *i == id)));
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(
        (log[0].0, &log[0].2[..]),
        (32000, &[TransactionEvent::Terminated { id }][..])
    );
    l.handle_message(clock.now(), ok.into(), peer(Transport::Udp));
    assert!(matches!(
        &events(&mut l)[..],
        [TransactionEvent::StrayResponse { .. }]
    ));
}

#[test]
fn non_invite_client_timer_e_is_capped_at_t2() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let id = l
        .send_request(
            clock.now(),
            request("OPTIONS", &branch, Transport::Udp),
            peer(Transport::Udp),
        )
        .unwrap();
    sent(&mut l);
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(
        times_sent(&log),
        [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(log.last().unwrap().0, 32000, "Timer F");
    assert_eq!(
        log.last().unwrap().2,
        [
            TransactionEvent::Timeout { id },
            TransactionEvent::Terminated { id }
        ]
    );
}

#[test]
fn non_invite_client_in_proceeding_retransmits_every_t2() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let opts = request("OPTIONS", &branch, Transport::Udp);
    l.send_request(clock.now(), opts.clone(), peer(Transport::Udp))
        .unwrap();
    sent(&mut l);
    clock.advance(Duration::from_millis(200));
    l.handle_message(
        clock.now(),
        response_to(&opts, 100, None).into(),
        peer(Transport::Udp),
    );
    events(&mut l);
    let log = run(&mut clock, &mut l, Duration::from_secs(13));
    assert_eq!(times_sent(&log), [500, 4500, 8500, 12500]);
}

#[test]
fn non_invite_client_absorbs_final_retransmissions_then_timer_k() {
    let (mut clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let bye = request("BYE", &branch, Transport::Udp);
    let id = l
        .send_request(clock.now(), bye.clone(), peer(Transport::Udp))
        .unwrap();
    sent(&mut l);
    let ok = response_to(&bye, 200, Some("t"));
    l.handle_message(clock.now(), ok.clone().into(), peer(Transport::Udp));
    assert_eq!(events(&mut l).len(), 1);
    l.handle_message(clock.now(), ok.into(), peer(Transport::Udp));
    assert!(events(&mut l).is_empty());
    let log = run(&mut clock, &mut l, Duration::from_secs(60));
    assert_eq!(
        (log[0].0, &log[0].2[..]),
        (5000, &[TransactionEvent::Terminated { id }][..]),
        "Timer K = T4"
    );
}

#[test]
fn transport_errors_end_the_transaction() {
    let (clock, mut l) = (ManualClock::new(), layer());
    let branch = l.new_branch();
    let id = l
        .send_request(
            clock.now(),
            request("INVITE", &branch, Transport::Tcp),
            peer(Transport::Tcp),
        )
        .unwrap();
    l.handle_transport_error(clock.now(), id);
    assert_eq!(
        events(&mut l),
        [
            TransactionEvent::TransportError { id },
            TransactionEvent::Terminated { id }
        ]
    );
    assert!(l.poll_timeout().is_none());
}

#[test]
fn requests_we_send_need_a_fresh_rfc3261_branch() {
    let (clock, mut l) = (ManualClock::new(), layer());
    assert!(l
        .send_request(
            clock.now(),
            request("OPTIONS", "no-cookie", Transport::Udp),
            peer(Transport::Udp)
        )
        .is_err());
    let b = l.new_branch();
    assert_ne!(b, l.new_branch());
    l.send_request(
        clock.now(),
        request("OPTIONS", &b, Transport::Udp),
        peer(Transport::Udp),
    )
    .unwrap();
    assert!(l
        .send_request(
            clock.now(),
            request("OPTIONS", &b, Transport::Udp),
            peer(Transport::Udp)
        )
        .is_err());
    let b2 = l.new_branch();
    assert!(l
        .send_request(
            clock.now(),
            request("ACK", &b2, Transport::Udp),
            peer(Transport::Udp)
        )
        .is_err());
}
