//! More SIPp interop (scenarios in `tests/sipp/`): the basic calls over TCP and over IPv6,
//! an advertised address in Via, Contact and SDP, 100rel/PRACK, session refreshes by
//! UPDATE and by re-INVITE, UPDATE to T.38, and glare (491 both ways, then the retry).

mod support_net;
mod support_sipp;

use std::net::SocketAddr;

use sip::dialog::{DialogEvent, EndReason};
use sip::msg::Method;
use sip::sdp::{Agreed, OfferMedia};
use sip::transaction::{Peer, Transport};
use support_net::{NetUa, UaOptions};
use support_sipp::*;

/// SIPp calls us with `scenario`; waits for it to succeed and for our side of the call to end.
async fn sipp_calls(scenario: &'static str, opts: UaOptions, sipp_opts: SippOpts) -> NetUa {
    let mut ua = NetUa::start(sipp_opts.ip, opts).await;
    let run = sipp_with(
        scenario,
        free_port_on(sipp_opts.ip),
        Some(ua.udp),
        sipp_opts,
    );
    run.expect_success().await;
    let end = ua.wait_for(WAIT, |e| ended(e).is_some()).await;
    if end.is_none() {
        let sent = ua.sent().await;
        panic!("call did not end: sent {sent:?}, saw {:?}", ua.seen);
    }
    assert_eq!(
        end.as_ref().and_then(ended),
        Some(EndReason::Bye { remote: true })
    );
    ua
}

/// We call SIPp (running `scenario`) over `transport`, then hang up.
async fn we_call(
    scenario: &'static str,
    opts: UaOptions,
    sipp_opts: SippOpts,
    transport: Transport,
) -> NetUa {
    let mut ua = NetUa::start(sipp_opts.ip, opts).await;
    let port = free_port_on(sipp_opts.ip);
    let run = sipp_with(scenario, port, None, sipp_opts);
    let target = SocketAddr::new(sipp_opts.ip, port);
    let uri = format!("sip:fax@{target}");
    let params = ua.call_params(
        &uri,
        Peer {
            addr: target,
            transport,
        },
    );
    // Over UDP our retransmissions cover sipp's start; over TCP the connect must find it
    // listening, which a refused connect followed by failover cannot give: retry the call.
    let mut id = ua.invite_with_failover(params.clone(), Vec::new()).await;
    let mut tries = 0;
    while ua.wait_for(WAIT / 3, is_confirmed).await.is_none() {
        tries += 1;
        assert!(tries < 3, "not confirmed: {:?}", ua.seen);
        id = ua.invite_with_failover(params.clone(), Vec::new()).await;
    }
    ua.bye(id);
    let end = ua
        .wait_for(
            WAIT,
            |e| matches!(e, DialogEvent::Terminated { id: i, .. } if *i == id),
        )
        .await;
    assert_eq!(
        end.as_ref().and_then(ended),
        Some(EndReason::Bye { remote: false })
    );
    run.expect_success().await;
    ua
}

fn tcp() -> SippOpts {
    SippOpts {
        transport: "t1",
        ..SippOpts::default()
    }
}

fn ipv6() -> SippOpts {
    SippOpts {
        ip: lo6(),
        ..SippOpts::default()
    }
}

#[tokio::test]
async fn sipp_calls_us_over_tcp() {
    if sipp_missing() {
        return;
    }
    let ua = sipp_calls("uac_basic.xml", UaOptions::default(), tcp()).await;
    assert!(ua.seen.iter().any(is_confirmed));
    assert_eq!(ua.stats().await.connections_accepted, 1);
}

#[tokio::test]
async fn we_call_sipp_over_tcp() {
    if sipp_missing() {
        return;
    }
    let ua = we_call("uas_basic.xml", UaOptions::default(), tcp(), Transport::Tcp).await;
    assert!(ua.stats().await.connections_opened >= 1);
}

#[tokio::test]
async fn sipp_calls_us_over_ipv6() {
    if sipp_missing() {
        return;
    }
    let ua = sipp_calls("uac_basic.xml", UaOptions::default(), ipv6()).await;
    let Some(DialogEvent::Confirmed { remote_sdp, .. }) = ua.seen.iter().find(|e| is_confirmed(e))
    else {
        panic!("{:?}", ua.seen)
    };
    let text = String::from_utf8(remote_sdp.to_bytes()).unwrap();
    assert!(text.contains("IN IP6 ::1"), "{text}");
}

#[tokio::test]
async fn we_call_sipp_over_ipv6() {
    if sipp_missing() {
        return;
    }
    we_call(
        "uas_basic.xml",
        UaOptions::default(),
        ipv6(),
        Transport::Udp,
    )
    .await;
}

fn advertised() -> UaOptions {
    UaOptions {
        advertised: Some("203.0.113.77".parse().unwrap()),
        ..UaOptions::default()
    }
}

#[tokio::test]
async fn sipp_sees_our_advertised_address_when_it_calls() {
    if sipp_missing() {
        return;
    }
    sipp_calls("uac_advertised.xml", advertised(), SippOpts::default()).await;
}

#[tokio::test]
async fn sipp_sees_our_advertised_address_when_we_call() {
    if sipp_missing() {
        return;
    }
    we_call(
        "uas_advertised.xml",
        advertised(),
        SippOpts::default(),
        Transport::Udp,
    )
    .await;
}

#[tokio::test]
async fn reliable_180_is_pracked_before_the_200() {
    if sipp_missing() {
        return;
    }
    let opts = UaOptions {
        answer_after_prack: true,
        ..UaOptions::default()
    };
    let ua = sipp_calls("uac_100rel.xml", opts, SippOpts::default()).await;
    let sent = ua.sent().await;
    let at = |l: &str| sent.iter().position(|s| s == l).unwrap();
    assert!(at("180 INVITE") < at("200 PRACK"), "{sent:?}");
    assert!(at("200 PRACK") < at("200 INVITE"), "{sent:?}");
}

#[tokio::test]
async fn session_refreshes_by_update_and_reinvite_keep_the_media() {
    if sipp_missing() {
        return;
    }
    let ua = sipp_calls("uac_refresh.xml", UaOptions::default(), SippOpts::default()).await;
    let refreshes: Vec<u32> = ua
        .seen
        .iter()
        .filter_map(|e| match e {
            DialogEvent::Refreshed { interval, .. } => Some(*interval),
            _ => None,
        })
        .collect();
    assert_eq!(refreshes, [90, 90], "{:?}", ua.seen);
    assert!(!ua.seen.iter().any(|e| matches!(
        e,
        DialogEvent::MediaChanged { .. } | DialogEvent::ReinviteOffered { .. }
    )));
}

#[tokio::test]
async fn update_switches_to_t38() {
    if sipp_missing() {
        return;
    }
    let ua = sipp_calls(
        "uac_update_t38.xml",
        UaOptions::default(),
        SippOpts::default(),
    )
    .await;
    assert!(ua.seen.iter().any(|e| matches!(
        e,
        DialogEvent::ReinviteOffered {
            method: Method::Update,
            ..
        }
    )));
    let a = agreed(&ua);
    assert!(matches!(a.last(), Some(Agreed::T38 { .. })), "{a:?}");
}

#[tokio::test]
async fn glare_both_ways_then_our_retry_wins() {
    if sipp_missing() {
        return;
    }
    let mut ua = NetUa::start(lo(), UaOptions::default()).await;
    let run = sipp_with(
        "uac_glare.xml",
        free_port(),
        Some(ua.udp),
        SippOpts::default(),
    );
    let Some(DialogEvent::Confirmed { id, .. }) = ua.wait_for(WAIT, is_confirmed).await else {
        panic!("not confirmed: {:?}", ua.seen)
    };
    ua.reinvite(id, OfferMedia::T38);
    let changed = ua
        .wait_for(WAIT, |e| matches!(e, DialogEvent::MediaChanged { .. }))
        .await;
    assert!(
        changed.is_some(),
        "{:?} sent {:?}",
        ua.seen,
        ua.sent().await
    );
    let end = ua.wait_for(WAIT, |e| ended(e).is_some()).await;
    assert_eq!(
        end.as_ref().and_then(ended),
        Some(EndReason::Bye { remote: true })
    );
    run.expect_success().await;
    let sent = ua.sent().await;
    assert!(sent.contains(&"491 INVITE".to_owned()), "{sent:?}");
    // Our re-INVITE went out twice: the glared one and the retry.
    assert_eq!(
        sent.iter().filter(|l| *l == "INVITE").count(),
        2,
        "{sent:?}"
    );
    assert!(matches!(agreed(&ua).last(), Some(Agreed::T38 { .. })));
}
