//! Digest authentication (RFC 7616, RFC 8760, RFC 3261 §22): published test vectors, a SIP
//! example computed independently, and our client against our server.

use std::time::{Duration, Instant};

use sip::auth::{
    ha1, response, Algorithm, AuthAttempt, Authorization, Challenge, Credentials, DigestClient,
    DigestParams, DigestServer, Qop, Verdict,
};
use sip::msg::{parse_datagram, HeaderName, Message, Request, Response, StatusCode};

fn params<'a>(
    alg: Algorithm,
    user: &'a str,
    realm: &'a str,
    nonce: &'a str,
    cnonce: &'a str,
    method: &'a str,
    uri: &'a str,
) -> DigestParams<'a> {
    DigestParams {
        algorithm: alg,
        username: user,
        realm,
        nonce,
        cnonce: Some(cnonce),
        nc: Some(1),
        qop: Some(Qop::Auth),
        method,
        uri,
        body: b"",
    }
}

#[test]
fn rfc7616_section_3_9_1_md5_and_sha256() {
    let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    let realm = "http-auth@example.org";
    for (alg, expected) in [
        (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (
            Algorithm::Sha256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ] {
        let p = params(
            alg,
            "Mufasa",
            realm,
            nonce,
            cnonce,
            "GET",
            "/dir/index.html",
        );
        assert_eq!(response(&p, &ha1(&p, "Circle of Life")), expected, "{alg}");
    }
}

#[test]
fn rfc2617_section_3_5() {
    let p = params(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "0a4f113b",
        "GET",
        "/dir/index.html",
    );
    assert_eq!(
        response(&p, &ha1(&p, "Circle Of Life")),
        "6629fae49393a05397450978507c4ef1"
    );
}

/// A SIP REGISTER in the style of RFC 2617, computed step by step (and checked with an
/// independent implementation, Python's hashlib):
///
/// ```text
/// HA1 = MD5("alice:atlanta.com:secret")                = 4c00389f118405a62dc666c595d7e0d8
/// HA2 = MD5("REGISTER:sip:atlanta.com")                 = 4ac1fb76ae759b3f313cd790d17a857d
/// qop=auth:
///   MD5(HA1:84a4cc6f3082121f32b42a2187831a9e:00000001:0a4f113b:auth:HA2)
///                                                       = b1ed353df222e80fbf8b1df87d80bc19
/// RFC 2069 form (no qop):
///   MD5(HA1:84a4cc6f3082121f32b42a2187831a9e:HA2)       = 0534730df9b76ff85088704104e68f4d
/// ```
#[test]
fn sip_register_md5_by_hand() {
    let nonce = "84a4cc6f3082121f32b42a2187831a9e";
    let mut p = params(
        Algorithm::Md5,
        "alice",
        "atlanta.com",
        nonce,
        "0a4f113b",
        "REGISTER",
        "sip:atlanta.com",
    );
    let h1 = ha1(&p, "secret");
    assert_eq!(h1, "4c00389f118405a62dc666c595d7e0d8");
    assert_eq!(
        Algorithm::Md5.hash(b"REGISTER:sip:atlanta.com"),
        "4ac1fb76ae759b3f313cd790d17a857d"
    );
    assert_eq!(response(&p, &h1), "b1ed353df222e80fbf8b1df87d80bc19");
    p.qop = None;
    p.nc = None;
    p.cnonce = None;
    assert_eq!(response(&p, &h1), "0534730df9b76ff85088704104e68f4d");
}

fn register() -> Request {
    let text = "REGISTER sip:fax.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr1\r\n\
                Max-Forwards: 70\r\nFrom: <sip:alice@fax.example>;tag=1\r\nTo: <sip:alice@fax.example>\r\n\
                Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.0.2.1>\r\n\r\n";
    match parse_datagram(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn pw(user: &str) -> Option<String> {
    (user == "alice").then(|| "wonderland".to_owned())
}

#[test]
fn client_and_server_agree_on_every_algorithm() {
    let t0 = Instant::now();
    for alg in [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
    ] {
        let mut server = DigestServer::new("fax.example", b"k", t0).with_algorithms(vec![alg]);
        let req = register();
        assert_eq!(
            server.verify(t0, &req, false, pw),
            Verdict::Challenge { stale: false }
        );
        let challenge = server.challenge_response(t0, &req, false, false);
        assert_eq!(challenge.status.as_u16(), 401);
        let mut client = DigestClient::new(Credentials::new("alice", "wonderland"), 9);
        let mut attempt = AuthAttempt::default();
        assert!(client.on_challenge(&challenge, &mut attempt));
        let mut retry = register();
        client.authorize(&mut retry);
        let creds =
            Authorization::parse(retry.headers.get(&HeaderName::Authorization).unwrap()).unwrap();
        assert_eq!(creds.algorithm, alg);
        assert_eq!(creds.uri, "sip:fax.example");
        assert_eq!(
            server.verify(t0, &retry, false, pw),
            Verdict::Authenticated {
                username: "alice".into()
            },
            "{alg}"
        );
    }
}

#[test]
fn strongest_challenge_wins() {
    let t0 = Instant::now();
    let server = DigestServer::new("fax.example", b"k", t0).with_algorithms(vec![
        Algorithm::Md5,
        Algorithm::Sha512_256,
        Algorithm::Sha256,
    ]);
    let challenge = server.challenge_response(t0, &register(), false, false);
    let mut client = DigestClient::new(Credentials::new("alice", "wonderland"), 9);
    assert!(client.on_challenge(&challenge, &mut AuthAttempt::default()));
    assert_eq!(client.algorithms(), [Algorithm::Sha512_256]);
}

#[test]
fn nonce_count_increments_and_replays_are_refused() {
    let t0 = Instant::now();
    let mut server = DigestServer::new("fax.example", b"k", t0);
    let mut client = DigestClient::new(Credentials::new("alice", "wonderland"), 3);
    let challenge = server.challenge_response(t0, &register(), false, false);
    assert!(client.on_challenge(&challenge, &mut AuthAttempt::default()));
    let mut first = register();
    client.authorize(&mut first);
    let mut second = register();
    client.authorize(&mut second);
    let nc = |r: &Request| {
        Authorization::parse(r.headers.get(&HeaderName::Authorization).unwrap())
            .unwrap()
            .nc
    };
    assert_eq!((nc(&first), nc(&second)), (Some(1), Some(2)));
    let cnonce = |r: &Request| {
        Authorization::parse(r.headers.get(&HeaderName::Authorization).unwrap())
            .unwrap()
            .cnonce
    };
    assert_ne!(cnonce(&first), cnonce(&second), "a fresh cnonce each time");
    assert!(matches!(
        server.verify(t0, &first, false, pw),
        Verdict::Authenticated { .. }
    ));
    assert!(matches!(
        server.verify(t0, &second, false, pw),
        Verdict::Authenticated { .. }
    ));
    assert_eq!(
        server.verify(t0, &first, false, pw),
        Verdict::Forbidden("nonce count replayed")
    );
}

#[test]
fn stale_nonce_is_retried_without_the_application_and_a_second_401_fails() {
    let t0 = Instant::now();
    let mut server =
        DigestServer::new("fax.example", b"k", t0).with_nonce_ttl(Duration::from_secs(10));
    let mut client = DigestClient::new(Credentials::new("alice", "wonderland"), 3);
    let mut attempt = AuthAttempt::default();
    assert!(client.on_challenge(
        &server.challenge_response(t0, &register(), false, false),
        &mut attempt
    ));
    let later = t0 + Duration::from_secs(20);
    let mut req = register();
    client.authorize(&mut req);
    assert_eq!(
        server.verify(later, &req, false, pw),
        Verdict::Challenge { stale: true }
    );
    let stale = server.challenge_response(later, &req, true, false);
    assert!(stale
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .contains("stale=true"));
    assert!(client.on_challenge(&stale, &mut attempt), "stale: retry");
    let mut again = register();
    client.authorize(&mut again);
    assert!(matches!(
        server.verify(later, &again, false, pw),
        Verdict::Authenticated { .. }
    ));
    // Same chain, a plain challenge after we answered one: the password is wrong.
    let plain = server.challenge_response(later, &again, false, false);
    assert!(!client.on_challenge(&plain, &mut attempt));
}

#[test]
fn wrong_password_tampered_nonce_and_uri_mismatch() {
    let t0 = Instant::now();
    let mut server = DigestServer::new("fax.example", b"k", t0);
    let challenge = server.challenge_response(t0, &register(), false, false);
    let mut bad = DigestClient::new(Credentials::new("alice", "guess"), 1);
    assert!(bad.on_challenge(&challenge, &mut AuthAttempt::default()));
    let mut req = register();
    bad.authorize(&mut req);
    assert_eq!(
        server.verify(t0, &req, false, pw),
        Verdict::Forbidden("wrong credentials")
    );

    let mut stranger = DigestClient::new(Credentials::new("mallory", "x"), 1);
    assert!(stranger.on_challenge(&challenge, &mut AuthAttempt::default()));
    let mut req = register();
    stranger.authorize(&mut req);
    assert_eq!(
        server.verify(t0, &req, false, pw),
        Verdict::Forbidden("unknown user")
    );

    let mut good = DigestClient::new(Credentials::new("alice", "wonderland"), 1);
    assert!(good.on_challenge(&challenge, &mut AuthAttempt::default()));
    let mut req = register();
    good.authorize(&mut req);
    let value = req
        .headers
        .get(&HeaderName::Authorization)
        .unwrap()
        .to_owned();
    let mut forged = req.clone();
    let nonce = Authorization::parse(&value).unwrap().nonce;
    let mut chars: Vec<char> = nonce.chars().collect();
    chars[20] = if chars[20] == '0' { '1' } else { '0' };
    let forged_nonce: String = chars.into_iter().collect();
    forged.headers.set(
        HeaderName::Authorization,
        value.replace(&nonce, &forged_nonce),
    );
    assert_eq!(
        server.verify(t0, &forged, false, pw),
        Verdict::Challenge { stale: false }
    );
    let mut moved = req.clone();
    moved.uri = "sip:elsewhere.example".parse().unwrap();
    assert!(matches!(
        server.verify(t0, &moved, false, pw),
        Verdict::Forbidden(_)
    ));
}

#[test]
fn legacy_challenge_without_qop_and_realm_binding() {
    let challenge_text = "Digest realm=\"atlanta.com\", nonce=\"84a4cc6f3082121f32b42a2187831a9e\"";
    let mut resp = Response::new(StatusCode::new(401).unwrap());
    resp.headers
        .push(HeaderName::WwwAuthenticate, challenge_text);
    let c = &Challenge::parse_all(challenge_text).unwrap()[0];
    assert!(c.qop.is_empty());
    let mut client = DigestClient::new(Credentials::new("alice", "secret"), 1);
    assert!(client.on_challenge(&resp, &mut AuthAttempt::default()));
    let mut req = register();
    req.uri = "sip:atlanta.com".parse().unwrap();
    client.authorize(&mut req);
    let a = Authorization::parse(req.headers.get(&HeaderName::Authorization).unwrap()).unwrap();
    assert_eq!(a.response, "0534730df9b76ff85088704104e68f4d");
    assert_eq!((a.qop, a.nc, a.cnonce), (None, None, None));

    let mut bound = DigestClient::new(
        Credentials {
            realm: Some("biloxi.com".into()),
            ..Credentials::new("alice", "secret")
        },
        1,
    );
    assert!(!bound.on_challenge(&resp, &mut AuthAttempt::default()));
}
