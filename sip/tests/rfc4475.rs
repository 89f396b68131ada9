//! The 49 RFC 4475 torture messages: every valid one parses with the right values, every
//! other one gets the outcome chosen below (with the reason per row), none panics, and
//! everything that parses survives parse → serialize → parse unchanged.

use std::path::PathBuf;

use sip::msg::{
    bad_request_for, check_request, check_response, parse_datagram, parse_stream, unescape,
    Contact, Framed, HeaderName, Host, Message, Method, Request, Response, UasPolicy, Uri,
};

/// What a UA does with the message, with faxserver's default endpoint policy
/// ([`UasPolicy::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The request is processed (or the response used).
    Process,
    /// The request parses and the validator answers with this status code.
    Respond(u16),
    /// The parser rejects the bytes; a 400 is still sent, built from the salvaged headers.
    ParserRejects,
    /// A response that is dropped (by the parser or by [`check_response`]).
    Drop,
}

use Outcome::*;

/// (file, valid per RFC 4475 §3.1.1, outcome, why).
#[rustfmt::skip]
const TABLE: &[(&str, bool, Outcome, &str)] = &[
    // §3.1.1 valid messages.
    ("wsinv",      true,  Process,       "§3.1.1.1: tortuous but legal INVITE"),
    ("intmeth",    true,  Respond(501),  "§3.1.1.2: legal; the method is unknown, so 501 (RFC 3261 §8.2.1)"),
    ("esc01",      true,  Process,       "§3.1.1.3: legal escaping"),
    ("escnull",    true,  Respond(405),  "§3.1.1.4: legal REGISTER; an endpoint is no registrar: 405"),
    ("esc02",      true,  Respond(501),  "§3.1.1.5: RE%47IST%45R is not REGISTER but an unknown method: 501"),
    ("lwsdisp",    true,  Process,       "§3.1.1.6: no LWS between display name and <"),
    ("longreq",    true,  Process,       "§3.1.1.7: long values, 34 Vias"),
    ("dblreq",     true,  Respond(405),  "§3.1.1.8: the REGISTER is read, the trailing INVITE ignored (UDP); 405"),
    ("semiuri",    true,  Process,       "§3.1.1.9: ; in the user part"),
    ("transports", true,  Process,       "§3.1.1.10: unknown transports in lower Vias"),
    ("mpart01",    true,  Respond(405),  "§3.1.1.11: legal multipart MESSAGE; an endpoint without MESSAGE: 405"),
    ("unreason",   true,  Process,       "§3.1.1.12: UTF-8 reason phrase"),
    ("noreason",   true,  Process,       "§3.1.1.13: empty reason phrase"),
    // §3.1.2 invalid messages.
    ("badinv01",   false, Respond(400),  "§3.1.2.1: empty Via and Contact parameters"),
    ("clerr",      false, ParserRejects, "§3.1.2.2: Content-Length beyond the datagram; 400 (RFC 3261 §18.3)"),
    ("ncl",        false, ParserRejects, "§3.1.2.3: negative Content-Length; 400, rest of datagram dropped"),
    ("scalar02",   false, Respond(400),  "§3.1.2.4: CSeq > 2^32-1 (Max-Forwards 300 too)"),
    ("scalarlg",   false, Drop,          "§3.1.2.5: response with overlarge CSeq is discarded"),
    ("quotbal",    false, Respond(400),  "§3.1.2.6: unterminated quote in To; no guessing"),
    ("ltgtruri",   false, ParserRejects, "§3.1.2.7: <> around the Request-URI"),
    ("lwsruri",    false, ParserRejects, "§3.1.2.8: LWS inside the Request-URI"),
    ("lwsstart",   false, ParserRejects, "§3.1.2.9: double SP in the request line; we are not liberal"),
    ("trws",       false, ParserRejects, "§3.1.2.10: SP after the version"),
    ("escruri",    false, Respond(400),  "§3.1.2.11: headers in the Request-URI"),
    ("baddate",    false, Respond(400),  "§3.1.2.12: Date not in GMT; rejected for consistency, we never use Date"),
    ("regbadct",   false, Respond(400),  "§3.1.2.13: addr-spec Contact with URI headers"),
    ("badaspec",   false, Respond(400),  "§3.1.2.14: spaces inside <> in To"),
    ("baddn",      false, Respond(400),  "§3.1.2.15: unquoted display names with commas"),
    ("badvers",    false, Respond(505),  "§3.1.2.16: SIP/7.0"),
    ("mismatch01", false, Respond(400),  "§3.1.2.17: OPTIONS with CSeq INVITE"),
    ("mismatch02", false, Respond(501),  "§3.1.2.18: unknown method with mismatched CSeq; 501 preferred"),
    ("bigcode",    false, Drop,          "§3.1.2.19: status code 4294967301 is not 3 digits"),
    // §3.2 transaction layer.
    ("badbranch",  false, Respond(400),  "§3.2.1: branch is only the magic cookie; 400 statelessly, no RFC 2543 fallback"),
    // §3.3 application layer.
    ("insuf",      false, Respond(400),  "§3.3.1: no Call-ID, From, To"),
    ("unkscm",     false, Respond(416),  "§3.3.2: unknown Request-URI scheme"),
    ("novelsc",    false, Respond(416),  "§3.3.3: soap.beep is never a fax destination"),
    ("unksm2",     false, Respond(405),  "§3.3.4: registrar would say 400 (see registrar_rejects_non_sip_aor); endpoint: 405"),
    ("bext01",     false, Respond(420),  "§3.3.5: unknown Require tags, listed in Unsupported"),
    ("invut",      false, Respond(415),  "§3.3.6: unknown body type; Accept lists ours"),
    ("regaut01",   false, Respond(405),  "§3.3.7: endpoints not acting as registrar: 405"),
    ("multi01",    false, Respond(400),  "§3.3.8: several Call-ID/To/From/CSeq/Max-Forwards"),
    ("mcl01",      false, ParserRejects, "§3.3.9: conflicting Content-Length values"),
    ("bcast",      false, Drop,          "§3.3.10: response with two Vias (RFC 3261 §8.1.3.3)"),
    ("zeromf",     false, Process,       "§3.3.11: Max-Forwards 0 reaches an endpoint: process it"),
    ("cparam01",   false, Respond(405),  "§3.3.12: REGISTER (contact-param parsed as such; see below)"),
    ("cparam02",   false, Respond(405),  "§3.3.13: REGISTER (uri-param parsed as such; see below)"),
    ("regescrt",   false, Respond(405),  "§3.3.14: REGISTER (escaped URI header decoded; see below)"),
    ("sdp01",      false, Respond(406),  "§3.3.15: Accept excludes application/sdp; an INVITE answer needs SDP"),
    // §3.4 backward compatibility.
    ("inv2543",    false, Process,       "§3.4.1: RFC 2543 INVITE: no branch, From tag, Content-Length, Max-Forwards"),
];

fn path(name: &str) -> PathBuf {
    test_support::testdata_dir()
        .join("sip")
        .join("rfc4475")
        .join(format!("{name}.dat"))
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn request(name: &str) -> Request {
    match parse_datagram(&bytes(name)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{name}: expected a request, got {other:?}"),
    }
}

fn response(name: &str) -> Response {
    match parse_datagram(&bytes(name)) {
        Ok(Message::Response(r)) => r,
        other => panic!("{name}: expected a response, got {other:?}"),
    }
}

fn outcome(data: &[u8]) -> Outcome {
    match parse_datagram(data) {
        Err(_) => {
            if bad_request_for(data, "Bad Request", Some("x")).is_some() {
                ParserRejects
            } else {
                Drop
            }
        }
        Ok(Message::Response(r)) => match check_response(&r) {
            Ok(()) => Process,
            Err(_) => Drop,
        },
        Ok(Message::Request(r)) => match check_request(&r, &UasPolicy::default()) {
            Ok(()) => Process,
            Err(rej) => {
                let legal = |c: char| {
                    !c.is_ascii()
                        || c.is_ascii_alphanumeric()
                        || " ;/?:@&=+$,-_.!~*'()%".contains(c)
                };
                assert!(
                    rej.reason.chars().all(legal),
                    "reason phrase {:?} breaks the grammar",
                    rej.reason
                );
                let resp = rej.response(&r, Some("ours"));
                assert_eq!(
                    parse_datagram(&resp.to_bytes()).map(|m| m.body().len()),
                    Ok(0)
                );
                Respond(rej.status.as_u16())
            }
        },
    }
}

#[test]
fn table_covers_every_file() {
    let mut files: Vec<String> =
        std::fs::read_dir(test_support::testdata_dir().join("sip").join("rfc4475"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".dat")
                    .map(str::to_owned)
            })
            .collect();
    files.sort();
    let mut rows: Vec<String> = TABLE.iter().map(|r| r.0.to_owned()).collect();
    rows.sort();
    assert_eq!(files.len(), 49);
    assert_eq!(files, rows);
    assert_eq!(TABLE.iter().filter(|r| r.1).count(), 13);
}

#[test]
fn every_message_gets_its_outcome() {
    let mut wrong = Vec::new();
    for &(name, valid, expected, why) in TABLE {
        let data = bytes(name);
        if valid {
            assert!(
                parse_datagram(&data).is_ok(),
                "{name} is valid and must parse: {:?}",
                parse_datagram(&data)
            );
        }
        let got = outcome(&data);
        if got != expected {
            wrong.push(format!(
                "{name}: expected {expected:?} ({why}), got {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn valid_requests_pass_a_permissive_validator() {
    for &(name, valid, _, _) in TABLE {
        if let (true, Ok(Message::Request(r))) = (valid, parse_datagram(&bytes(name))) {
            assert_eq!(
                check_request(&r, &UasPolicy::permissive()),
                Ok(()),
                "{name}"
            );
        }
    }
}

#[test]
fn parser_rejected_requests_still_get_a_400_echoing_the_headers() {
    let resp = bad_request_for(&bytes("lwsstart"), "Bad Request", Some("ours")).unwrap();
    assert_eq!(resp.status.as_u16(), 400);
    assert_eq!(
        resp.headers.call_id().unwrap(),
        "lwsstart.dfknq234oi243099adsdfnawe3@example.com"
    );
    assert_eq!(resp.headers.to().unwrap().tag(), Some("ours"));
    assert_eq!(resp.headers.cseq().unwrap().seq, 1893884);
}

#[test]
fn rejections_carry_the_headers_rfc_4475_asks_for() {
    let policy = UasPolicy::default();
    let bext = request("bext01");
    let rej = check_request(&bext, &policy).unwrap_err();
    let resp = rej.response(&bext, Some("t1"));
    let unsupported: Vec<&str> = resp.headers.unsupported();
    assert_eq!(
        unsupported,
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let invut = request("invut");
    let resp = check_request(&invut, &policy)
        .unwrap_err()
        .response(&invut, None);
    assert_eq!(
        resp.headers.get(&HeaderName::Accept),
        Some("application/sdp, multipart/mixed")
    );
    let reg = request("regaut01");
    let resp = check_request(&reg, &policy)
        .unwrap_err()
        .response(&reg, None);
    assert!(resp.headers.allow().contains(&Method::Invite));
}

#[test]
fn registrar_rejects_non_sip_aor() {
    let mut policy = UasPolicy::default();
    policy.allow.as_mut().unwrap().push(Method::Register);
    let rej = check_request(&request("unksm2"), &policy).unwrap_err();
    assert_eq!(rej.status.as_u16(), 400);
    for ok in ["cparam01", "cparam02", "regescrt", "escnull", "regaut01"] {
        assert_eq!(check_request(&request(ok), &policy), Ok(()), "{ok}");
    }
}

#[test]
fn zero_max_forwards_gets_483_only_when_asked() {
    let policy = UasPolicy {
        reject_zero_max_forwards: true,
        ..UasPolicy::default()
    };
    let mut r = request("zeromf");
    assert_eq!(
        check_request(&r, &policy),
        Ok(()),
        "OPTIONS is answered even then"
    );
    r.method = Method::Info;
    r.headers.set(HeaderName::CSeq, "39234321 INFO");
    assert_eq!(check_request(&r, &policy).unwrap_err().status.as_u16(), 483);
}

#[test]
fn wsinv_values() {
    let r = request("wsinv");
    assert_eq!(r.method, Method::Invite);
    assert_eq!(
        r.uri.to_string(),
        "sip:vivekg@chair-dnrc.example.com;unknownparam"
    );
    let h = &r.headers;
    assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
    let from = h.from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(h.max_forwards().unwrap(), Some(68));
    let cseq = h.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let vias = h.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[0].host, Host::Ipv4("192.0.2.2".parse().unwrap()));
    assert_eq!(
        (vias[1].transport.as_str(), vias[1].branch()),
        ("TCP", Some("z9hG4bK9ikj8"))
    );
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(h.get(&HeaderName::Subject), Some(""));
    assert_eq!(
        h.get(&HeaderName::parse("NewFangledHeader")),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        h.get(&HeaderName::parse("UnknownHeaderWithUnusualValue")),
        Some(";;,,;;,;")
    );
    let Contact::Address(c) = &h.contacts().unwrap()[0] else {
        panic!("wildcard")
    };
    assert_eq!(c.display_name.as_deref(), Some("Quoted string \"\""));
    assert_eq!(c.params.get("newparam"), Some("newvalue"));
    assert!(c.params.contains("secondparam"));
    assert_eq!(c.params.get("q"), Some("0.33"));
    let route = &h.routes().unwrap()[0];
    assert_eq!(
        route.uri.to_string(),
        "sip:services.example.com;lr;unknownwith=value;unknown-no-value"
    );
    assert_eq!(
        h.content_type().unwrap().unwrap().essence(),
        "application/sdp"
    );
    assert_eq!(r.body.len(), 150);
    assert_eq!(r.content_length(), 150);
}

#[test]
fn intmeth_values() {
    let r = request("intmeth");
    assert_eq!(
        r.method,
        Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    assert_eq!(
        r.uri.to_string(),
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com"
    );
    let Uri::Sip(u) = &r.uri else {
        panic!("not sip")
    };
    assert_eq!(
        u.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    let h = &r.headers;
    assert_eq!(
        h.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(h.cseq().unwrap().method, r.method);
    assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
    assert_eq!(
        h.to().unwrap().display_name.as_deref(),
        Some("BEL:\x07 NUL:\0 DEL:\x7f")
    );
    let from = h.from().unwrap();
    assert_eq!(
        from.display_name.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        from.params.get("fromParam''~+*_!.-%"),
        Some("\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\"")
    );
    assert_eq!(h.max_forwards().unwrap(), Some(255));
    assert_eq!(
        h.get(&HeaderName::parse("extensionHeader-!.%*+_`'~")),
        Some("\u{feff}\u{5927}\u{505c}\u{96fb}")
    );
}

#[test]
fn esc01_escnull_esc02_values() {
    let r = request("esc01");
    assert_eq!(
        r.uri.to_string(),
        "sip:sips%3Auser%40example.com@example.net"
    );
    let u = r.uri.as_sip().unwrap();
    assert_eq!(
        unescape(u.user.as_deref().unwrap()),
        b"sips:user@example.com"
    );
    let to = r.headers.to().unwrap();
    assert_eq!(
        unescape(to.uri.as_sip().unwrap().user.as_deref().unwrap()),
        b"user"
    );
    let from = r.headers.from().unwrap();
    assert_eq!(
        unescape(from.uri.as_sip().unwrap().user.as_deref().unwrap()),
        b"I have spaces"
    );
    let Contact::Address(c) = &r.headers.contacts().unwrap()[0] else {
        panic!()
    };
    let cu = c.uri.as_sip().unwrap();
    assert_eq!(cu.params.0[0].name, "%6C%72");
    assert_eq!(cu.params.0[1].value.as_deref(), Some("v%61lue%25%34%31"));
    assert_eq!(
        r.headers.content_type().unwrap().unwrap().essence(),
        "application/sdp"
    );

    let r = request("escnull");
    assert_eq!(r.method, Method::Register);
    let to = r.headers.to().unwrap();
    assert_eq!(
        unescape(to.uri.as_sip().unwrap().user.as_deref().unwrap()),
        b"null-\0-null"
    );
    assert_eq!(r.headers.contacts().unwrap().len(), 2);

    let r = request("esc02");
    assert_eq!(r.method, Method::Extension("RE%47IST%45R".into()));
    assert_eq!(r.headers.cseq().unwrap().method, r.method);
    assert_eq!(
        r.headers.to().unwrap().display_name.as_deref(),
        Some("%Z%45")
    );
    assert_eq!(
        r.headers.top_via().unwrap().branch(),
        Some("z9hG4bK209%fzsnel234")
    );
    assert_eq!(
        r.headers.contacts().unwrap().len(),
        2,
        "C%6Fntact is not Contact"
    );
    assert_eq!(
        r.headers.get(&HeaderName::parse("C%6Fntact")),
        Some("<sip:alias2@host2.example.com>")
    );
}

#[test]
fn lwsdisp_longreq_values() {
    let r = request("lwsdisp");
    assert_eq!(
        r.headers.from().unwrap().display_name.as_deref(),
        Some("caller")
    );
    assert_eq!(
        r.headers.call_id().unwrap(),
        "lwsdisp.1234abcd@funky.example.com"
    );

    let r = request("longreq");
    let h = &r.headers;
    assert_eq!(h.count(&HeaderName::Via), 34);
    let vias = h.vias().unwrap();
    assert_eq!(vias[0].host, Host::Domain("sip33.example.com".into()));
    assert_eq!(vias[33].received(), Some("192.0.2.5"));
    assert!(vias[33].branch().unwrap().len() > 100);
    let to = h.to().unwrap();
    assert!(to
        .display_name
        .unwrap()
        .starts_with("I have a user name of extreme"));
    let tu = to.uri.as_sip().unwrap();
    assert_eq!(tu.port, Some(6000));
    assert_eq!(tu.params.0.len(), 3);
    assert!(h.from().unwrap().tag().unwrap().starts_with("12982982982"));
    assert!(h.call_id().unwrap().starts_with("longreq.onereally"));
    assert_eq!(h.cseq().unwrap().seq, 3882340);
    assert_eq!(h.contacts().unwrap().len(), 1);
    assert_eq!(r.body.len(), 150);
}

#[test]
fn dblreq_udp_takes_the_first_stream_takes_both() {
    let data = bytes("dblreq");
    let r = request("dblreq");
    assert_eq!(r.method, Method::Register);
    assert_eq!(
        r.headers.call_id().unwrap(),
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );
    assert!(r.body.is_empty());
    let Framed::Complete { message, consumed } = parse_stream(&data).unwrap() else {
        panic!()
    };
    assert!(matches!(message, Message::Request(ref m) if m.method == Method::Register));
    let Framed::Complete { message, .. } = parse_stream(&data[consumed..]).unwrap() else {
        panic!()
    };
    let Message::Request(invite) = message else {
        panic!()
    };
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(
        invite.headers.to().unwrap().uri.to_string(),
        "sip:joe@example.com"
    );
    assert_eq!(invite.body.len(), 150);
}

#[test]
fn semiuri_transports_mpart01_values() {
    let r = request("semiuri");
    assert_eq!(
        r.uri.to_string(),
        "sip:user;par=u%40example.net@example.com"
    );
    let u = r.uri.as_sip().unwrap();
    assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
    assert!(u.params.is_empty());
    assert_eq!(r.headers.accept().unwrap().len(), 6);

    let r = request("transports");
    let t: Vec<String> = r
        .headers
        .vias()
        .unwrap()
        .into_iter()
        .map(|v| v.transport)
        .collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert_eq!(
        r.headers.call_id().unwrap(),
        "transports.kijh4akdnaqjkwendsasfdj"
    );

    let r = request("mpart01");
    assert_eq!(r.method, Method::Message);
    let ct = r.headers.content_type().unwrap().unwrap();
    assert_eq!(ct.essence(), "multipart/mixed");
    assert_eq!(ct.params.get("boundary"), Some("7a9cbec02ceef655"));
    assert_eq!(r.body.len(), 553);
    assert!(std::str::from_utf8(&r.body).is_err(), "the body is binary");
    assert_eq!(r.headers.top_via().unwrap().rport(), Some(None));
    assert_eq!(
        r.headers.routes().unwrap()[0].uri.to_string(),
        "sip:127.0.0.1:5080"
    );
}

#[test]
fn responses_values() {
    let r = response("unreason");
    assert_eq!(r.status.as_u16(), 200);
    assert!(r.reason.starts_with("= 2**3 * 5**2 \u{43d}\u{43e}"));
    assert_eq!(r.body.len(), 154);
    let r = response("noreason");
    assert_eq!(r.status.as_u16(), 100);
    assert_eq!(r.reason, "");
    assert_eq!(r.headers.to().unwrap().tag(), Some("902jndnke3"));
}

#[test]
fn application_layer_parse_details() {
    let r = request("cparam01");
    let Contact::Address(c) = &r.headers.contacts().unwrap()[0] else {
        panic!()
    };
    assert!(
        c.params.contains("unknownparam"),
        "contact-param, not uri-param"
    );
    assert!(c.uri.as_sip().unwrap().params.is_empty());
    let r = request("cparam02");
    let Contact::Address(c) = &r.headers.contacts().unwrap()[0] else {
        panic!()
    };
    assert!(c.params.is_empty());
    assert!(c.uri.as_sip().unwrap().params.contains("unknownparam"));
    let r = request("regescrt");
    let Contact::Address(c) = &r.headers.contacts().unwrap()[0] else {
        panic!()
    };
    assert_eq!(
        c.uri.as_sip().unwrap().header("Route").unwrap(),
        b"<sip:sip.example.com>"
    );
    let r = request("inv2543");
    assert_eq!(r.headers.top_via().unwrap().branch(), None);
    assert_eq!(r.headers.from().unwrap().tag(), None);
    assert_eq!(r.headers.max_forwards().unwrap(), None);
    assert!(
        r.body.ends_with(b"m=audio 49217 RTP/AVP 0\r\n"),
        "body = rest of datagram"
    );
    let r = request("unkscm");
    assert_eq!(
        r.uri.to_string(),
        "nobodyKnowsThisScheme:totallyopaquecontent"
    );
    let r = request("unksm2");
    assert_eq!(r.headers.to().unwrap().uri.scheme(), "isbn");
    assert_eq!(r.headers.from().unwrap().uri.scheme(), "http");
}

#[test]
fn everything_that_parses_round_trips() {
    for &(name, _, _, _) in TABLE {
        let Ok(first) = parse_datagram(&bytes(name)) else {
            continue;
        };
        let wire = first.to_bytes();
        let second =
            parse_datagram(&wire).unwrap_or_else(|e| panic!("{name}: reparse failed: {e}"));
        assert_eq!(first, second, "{name}");
        assert_eq!(
            second.to_bytes(),
            wire,
            "{name}: serialization is a fixed point"
        );
    }
}
