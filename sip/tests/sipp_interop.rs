//! SIPp (`sipp`, Debian's sip-tester) against our test UA on loopback over UDP: scenarios
//! in `tests/sipp/`. Each test asserts sipp exits 0 and checks the dialog events on our
//! side. Without sipp installed the tests print SKIPPED and pass (see `support_sipp`).

mod support_net;
mod support_sipp;

use std::net::SocketAddr;

use sip::auth::Credentials;
use sip::dialog::{DialogEvent, EndReason};
use sip::sdp::Agreed;
use support_net::{NetUa, UaOptions};
use support_sipp::*;

async fn uas_case(scenario: &'static str, opts: UaOptions) -> NetUa {
    let mut ua = NetUa::start(lo(), opts).await;
    let run = sipp(scenario, free_port(), Some(ua.udp));
    run.expect_success().await;
    let end = ua.wait_for(WAIT, |e| ended(e).is_some()).await;
    if end.is_none() {
        let sent = ua.sent().await;
        panic!("call did not end: sent {sent:?}, saw {:?}", ua.seen);
    }
    ua
}

#[tokio::test]
async fn sipp_calls_us_and_hangs_up() {
    if sipp_missing() {
        return;
    }
    let ua = uas_case("uac_basic.xml", UaOptions::default()).await;
    assert!(ua.seen.iter().any(is_confirmed));
    assert!(ua
        .seen
        .iter()
        .any(|e| ended(e) == Some(EndReason::Bye { remote: true })));
}

#[tokio::test]
async fn sipp_reinvites_to_t38_and_we_accept() {
    if sipp_missing() {
        return;
    }
    let ua = uas_case("uac_reinvite_t38.xml", UaOptions::default()).await;
    let a = agreed(&ua);
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(matches!(a[1], Agreed::T38 { .. }), "{a:?}");
}

#[tokio::test]
async fn sipp_refreshes_the_session_during_t38() {
    if sipp_missing() {
        return;
    }
    let ua = uas_case("uac_refresh_t38.xml", UaOptions::default()).await;
    let a = agreed(&ua);
    // Audio, then T.38; the refresh changes nothing, so no third agreement.
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(matches!(a[1], Agreed::T38 { .. }), "{a:?}");
}

#[tokio::test]
async fn sipp_reinvite_to_t38_refused_with_488() {
    if sipp_missing() {
        return;
    }
    let opts = UaOptions {
        accept_t38: false,
        ..UaOptions::default()
    };
    let ua = uas_case("uac_reinvite_488.xml", opts).await;
    assert!(ua.seen.iter().any(|e| matches!(
        e,
        DialogEvent::ReinviteRejected { code, ours: false, .. } if code.as_u16() == 488
    )));
    assert!(ua
        .seen
        .iter()
        .any(|e| ended(e) == Some(EndReason::Bye { remote: true })));
}

#[tokio::test]
async fn sipp_cancels_before_answer() {
    if sipp_missing() {
        return;
    }
    let opts = UaOptions {
        answer: false,
        ..UaOptions::default()
    };
    let ua = uas_case("uac_cancel.xml", opts).await;
    assert!(ua.seen.iter().any(|e| ended(e) == Some(EndReason::Cancel)));
}

#[tokio::test]
async fn sipp_offers_t38_in_the_first_invite() {
    if sipp_missing() {
        return;
    }
    let ua = uas_case("uac_t38_initial.xml", UaOptions::default()).await;
    let a = agreed(&ua);
    assert!(matches!(a.first(), Some(Agreed::T38 { .. })), "{a:?}");
}

#[tokio::test]
async fn sipp_delayed_offer_answer_in_ack() {
    if sipp_missing() {
        return;
    }
    let ua = uas_case("uac_delayed_offer.xml", UaOptions::default()).await;
    assert!(ua.seen.iter().any(is_confirmed));
}

#[tokio::test]
async fn our_200_lost_once_is_retransmitted() {
    if sipp_missing() {
        return;
    }
    let opts = UaOptions {
        drop_first_out: vec!["200 INVITE".into()],
        ..UaOptions::default()
    };
    let ua = uas_case("uac_basic.xml", opts).await;
    assert!(ua.seen.iter().any(is_confirmed));
    let sent = ua.sent().await;
    assert!(
        sent.iter().filter(|l| *l == "200 INVITE").count() >= 2,
        "{sent:?}"
    );
}

async fn uac_case(scenario: &'static str, opts: UaOptions, creds: Option<Credentials>) -> NetUa {
    let mut ua = NetUa::start(lo(), opts).await;
    let port = free_port();
    let run = sipp(scenario, port, None);
    let target = SocketAddr::new(lo(), port);
    // sipp needs a moment to bind; our INVITE retransmissions (T1 = 500 ms) cover it.
    let id = ua.invite(target, false, creds).await;
    let confirmed = ua.wait_for(WAIT, is_confirmed).await;
    assert!(confirmed.is_some(), "not confirmed: {:?}", ua.seen);
    ua.bye(id);
    let end = ua.wait_for(WAIT, |e| ended(e).is_some()).await;
    assert_eq!(
        end.as_ref().and_then(ended),
        Some(EndReason::Bye { remote: false })
    );
    run.expect_success().await;
    ua
}

#[tokio::test]
async fn we_call_sipp_and_hang_up() {
    if sipp_missing() {
        return;
    }
    uac_case("uas_basic.xml", UaOptions::default(), None).await;
}

#[tokio::test]
async fn our_invite_challenged_with_401_is_retried_with_credentials() {
    if sipp_missing() {
        return;
    }
    let creds = Credentials {
        username: "fax".into(),
        password: "secret".into(),
        realm: None,
    };
    let ua = uac_case("uas_auth.xml", UaOptions::default(), Some(creds)).await;
    let sent = ua.sent().await;
    // The first INVITE may be retransmitted while sipp starts; the challenge adds one.
    assert!(
        sent.iter().filter(|l| *l == "INVITE").count() >= 2,
        "{sent:?}"
    );
}

#[tokio::test]
async fn our_lost_invite_is_retransmitted() {
    if sipp_missing() {
        return;
    }
    let opts = UaOptions {
        drop_first_out: vec!["INVITE".into()],
        ..UaOptions::default()
    };
    let ua = uac_case("uas_basic.xml", opts, None).await;
    let sent = ua.sent().await;
    assert!(
        sent.iter().filter(|l| *l == "INVITE").count() >= 2,
        "{sent:?}"
    );
}

#[tokio::test]
async fn sipps_lost_bye_is_retransmitted() {
    if sipp_missing() {
        return;
    }
    let opts = UaOptions {
        drop_first_in: vec!["BYE".into()],
        ..UaOptions::default()
    };
    let ua = uas_case("uac_basic.xml", opts).await;
    assert!(ua
        .seen
        .iter()
        .any(|e| ended(e) == Some(EndReason::Bye { remote: true })));
}
