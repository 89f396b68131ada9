//! Numbers and identity per gateway: the called number and the caller of real-looking
//! INVITEs (carrier captures among them) under every config, privacy, malformed headers;
//! the identity we present outbound; and the real source behind a trusted proxy, down to
//! the agent's ACL on loopback, where a spoofed source header must never get a call in.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use engine::call::{
    called_number, caller, format_number, resolve_source, AgentConfig, CallEvent, CallSource,
    CalledFrom, Caller, CallerSource, GatewayIdentity, IdentityError, InboundIdentity,
    IncomingCall, NumberFormat, OutboundCaller, PeerAcl, SipAgent,
};
use sip::dialog::{CallParams, MediaConfig};
use sip::msg::{parse_datagram, HeaderName, Headers, Message, Request, SipUri, Uri};
use sip::sdp::{Capabilities, OfferMedia, Policy};
use sip::transaction::{Peer, Transport};
use store::NumberRules;
use test_support::{read_pcap_file, testdata_dir, SeededRng};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

// ---------------------------------------------------------------------------------------
// INVITEs from text

/// An INVITE to `ruri` with `headers`; From and To get defaults unless given.
fn invite(ruri: &str, headers: &[&str]) -> Request {
    let has = |name: &str| {
        headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with(&format!("{name}:")))
    };
    let mut text = format!(
        "INVITE {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n\
         Max-Forwards: 70\r\n\
         Call-ID: a84b4c76e66710@192.0.2.10\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:gw@192.0.2.10:5060>\r\n"
    );
    if !has("from") {
        text.push_str("From: \"Carrier CNAM\" <sip:+12125551234@carrier.example>;tag=19283\r\n");
    }
    if !has("to") {
        text.push_str("To: <sip:+15559876543@fax.example>\r\n");
    }
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    request_of(text.as_bytes()).unwrap_or_else(|| panic!("INVITE does not parse:\n{text}"))
}

fn request_of(bytes: &[u8]) -> Option<Request> {
    match parse_datagram(bytes).ok()? {
        Message::Request(r) => Some(r),
        Message::Response(_) => None,
    }
}

/// The INVITEs of the Italtel capture (`FAX-Call-t38-CA-TDM-SIP-FB-1.pcap`) sent from `src`.
fn captured_invites(src: Ipv4Addr) -> Vec<Request> {
    let path = testdata_dir()
        .join("pcap")
        .join("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap");
    read_pcap_file(&path)
        .expect("read capture")
        .udp_datagrams()
        .into_iter()
        .filter(|d| *d.src.ip() == src && d.payload.starts_with(b"INVITE "))
        .filter_map(|d| request_of(&d.payload))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Called number

/// Request-URI, header lines, config, and the number and source expected.
type CalledCase<'a> = (
    &'a str,
    &'a [&'a str],
    CalledFrom,
    Option<(&'a str, CalledFrom)>,
);

#[test]
fn called_number_per_config() {
    let div = "Diversion: <sip:+15551110001@carrier.example>;reason=no-answer;counter=1, \
               <sip:+15551110000@carrier.example>;reason=unconditional;counter=1";
    let hist =
        "History-Info: <sip:+15552220001@pbx.example?Reason=SIP%3Bcause%3D302>;index=1.1;mp=1, \
                <sip:+15552220000@carrier.example>;index=1, \
                <sip:fax@node1.example>;index=1.1.1;rc=1.1";
    let pcpi = "P-Called-Party-ID: \"Sales fax\" <sip:+15553330000@ims.example;user=phone>";
    let to = "To: \"Fax\" <tel:+1-555-444-0000>";
    let all = [div, hist, pcpi, to];
    let ruri = "sip:+15559990000@fax.example;user=phone";
    let table: &[CalledCase] = &[
        // Each source, present.
        (ruri, &all, CalledFrom::RequestUri, Some(("+15559990000", CalledFrom::RequestUri))),
        (ruri, &all, CalledFrom::To, Some(("+15554440000", CalledFrom::To))),
        (ruri, &all, CalledFrom::Diversion, Some(("+15551110000", CalledFrom::Diversion))),
        (ruri, &all, CalledFrom::HistoryInfo, Some(("+15552220000", CalledFrom::HistoryInfo))),
        (ruri, &all, CalledFrom::PCalledPartyId, Some(("+15553330000", CalledFrom::PCalledPartyId))),
        // Each source, absent: the Request-URI decides.
        (ruri, &[], CalledFrom::Diversion, Some(("+15559990000", CalledFrom::RequestUri))),
        (ruri, &[], CalledFrom::HistoryInfo, Some(("+15559990000", CalledFrom::RequestUri))),
        (ruri, &[], CalledFrom::PCalledPartyId, Some(("+15559990000", CalledFrom::RequestUri))),
        // Diversion split over two header lines counts in the same order.
        (
            ruri,
            &[
                "Diversion: <sip:5551110002@carrier.example>;reason=user-busy",
                "Diversion: <sip:5551110001@carrier.example>;reason=no-answer",
            ],
            CalledFrom::Diversion,
            Some(("5551110001", CalledFrom::Diversion)),
        ),
        // A single diversion, gofaxserver's case.
        (
            "sip:fax@10.0.0.5",
            &["Diversion: <sip:2125550100@10.0.0.1>;reason=unconditional;privacy=off;screen=no"],
            CalledFrom::Diversion,
            Some(("2125550100", CalledFrom::Diversion)),
        ),
        // History-Info without indexes: the first entry.
        (
            ruri,
            &["History-Info: <sip:+15552220009@a.example>, <sip:+15552220008@b.example>"],
            CalledFrom::HistoryInfo,
            Some(("+15552220009", CalledFrom::HistoryInfo)),
        ),
        // History-Info whose root has no number: the next entry in index order.
        (
            ruri,
            &["History-Info: <sip:+15552220002@b.example>;index=1.2, <sip:a.example>;index=1, <sip:+15552220001@b.example>;index=1.1"],
            CalledFrom::HistoryInfo,
            Some(("+15552220001", CalledFrom::HistoryInfo)),
        ),
        // tel: Request-URI, visual separators dropped.
        ("tel:+1-555-999-0001;phone-context=+1", &[], CalledFrom::RequestUri, Some(("+15559990001", CalledFrom::RequestUri))),
        // Telephone-subscriber parameters (RFC 4694) and escapes leave the number.
        ("sip:+15559990002;npdi;rn=+15550000000@fax.example;user=phone", &[], CalledFrom::RequestUri, Some(("+15559990002", CalledFrom::RequestUri))),
        ("sip:%2B15559990003@fax.example", &[], CalledFrom::RequestUri, Some(("+15559990003", CalledFrom::RequestUri))),
        // A user that is not a number stays as it is.
        ("sip:fax.inbox@fax.example", &[], CalledFrom::RequestUri, Some(("fax.inbox", CalledFrom::RequestUri))),
        // No user anywhere.
        ("sip:fax.example", &[], CalledFrom::RequestUri, None),
        ("sip:fax.example", &[], CalledFrom::To, Some(("+15559876543", CalledFrom::To))),
    ];
    for (ruri, headers, from, want) in table {
        let got = called_number(&invite(ruri, headers), *from);
        let got = got.as_ref().map(|c| (c.number.as_str(), c.from));
        assert_eq!(got, *want, "{from:?} of {ruri} with {headers:?}");
    }
}

#[test]
fn malformed_called_headers_fall_back_to_the_request_uri() {
    let ruri = "sip:5559990000@fax.example";
    for (header, from) in [
        (
            "Diversion: <sip:+15551110000@carrier.example",
            CalledFrom::Diversion,
        ),
        ("Diversion: garbage", CalledFrom::Diversion),
        ("Diversion: <>", CalledFrom::Diversion),
        ("Diversion: <mailto:fax@example.com>", CalledFrom::Diversion),
        ("History-Info: <sip:@x>;index=1", CalledFrom::HistoryInfo),
        (
            "History-Info: \"unterminated <sip:1@x>;index=1",
            CalledFrom::HistoryInfo,
        ),
        ("P-Called-Party-ID: sip:", CalledFrom::PCalledPartyId),
        ("P-Called-Party-ID: <tel:xyz>", CalledFrom::PCalledPartyId),
    ] {
        let got = called_number(&invite(ruri, &[header]), from).expect("a number");
        assert_eq!(got.number, "5559990000", "{header}");
        assert_eq!(got.from, CalledFrom::RequestUri, "{header}");
    }
    // A bad History-Info index sorts after the good ones instead of failing.
    let got = called_number(
        &invite(
            ruri,
            &["History-Info: <sip:1111111@a>;index=x.1, <sip:2222222@a>;index=1.1"],
        ),
        CalledFrom::HistoryInfo,
    );
    assert_eq!(got.unwrap().number, "2222222");
}

#[test]
fn carrier_capture_numbers() {
    // The carrier's INVITE to the gateway: number in both the Request-URI and To, caller
    // "unavailable" (no number, which is not a privacy request).
    let from_carrier = captured_invites(Ipv4Addr::new(138, 132, 169, 101));
    assert!(
        !from_carrier.is_empty(),
        "the capture holds the carrier's INVITEs"
    );
    for inv in &from_carrier {
        for from in [CalledFrom::RequestUri, CalledFrom::To] {
            assert_eq!(called_number(inv, from).unwrap().number, "061963177");
        }
        for trusted in [false, true] {
            let c = caller(inv, trusted);
            assert_eq!(c.number, None);
            assert!(!c.number_withheld, "unavailable is not withheld");
            assert_eq!(c.source, CallerSource::From);
        }
    }
    // The gateway's INVITE inward: a contact-style Request-URI user, the number only in To.
    let inward = captured_invites(Ipv4Addr::new(10, 35, 60, 72));
    assert!(!inward.is_empty());
    for inv in &inward {
        let ruri = called_number(inv, CalledFrom::RequestUri).unwrap();
        assert_eq!(ruri.number, "061963177-ikhuuep5bi123");
        assert_eq!(
            called_number(inv, CalledFrom::To).unwrap().number,
            "061963177"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Caller

#[derive(Debug, PartialEq)]
struct Want {
    number: Option<String>,
    name: Option<String>,
    number_withheld: bool,
    name_withheld: bool,
    source: CallerSource,
}

fn want(
    number: Option<&str>,
    name: Option<&str>,
    withheld: (bool, bool),
    source: CallerSource,
) -> Want {
    Want {
        number: number.map(str::to_owned),
        name: name.map(str::to_owned),
        number_withheld: withheld.0,
        name_withheld: withheld.1,
        source,
    }
}

fn got(c: &Caller) -> Want {
    Want {
        number: c.number.clone(),
        name: c.name.clone(),
        number_withheld: c.number_withheld,
        name_withheld: c.name_withheld,
        source: c.source,
    }
}

#[test]
fn caller_per_trust_and_privacy() {
    use CallerSource::{AssertedIdentity as Pai, From, RemotePartyId as Rpid};
    const NO: (bool, bool) = (false, false);
    const ALL: (bool, bool) = (true, true);
    let pai = "P-Asserted-Identity: \"ACME Corp\" <sip:+12125550100@carrier.example;user=phone>";
    let pai_tel = "P-Asserted-Identity: <tel:+1-212-555-0101>";
    let pai_pair = "P-Asserted-Identity: \"Alice\" <sip:alice@pbx.example>, <tel:+12125550102>";
    let rpid = "Remote-Party-ID: \"RPID Name\" <sip:2125550200@10.0.0.1>;party=calling;screen=yes;privacy=off";
    let anon = "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=1";
    let table: &[(&[&str], bool, Want)] = &[
        // Untrusted: From only, whatever else is there.
        (&[pai, rpid], false, want(Some("+12125551234"), Some("Carrier CNAM"), NO, From)),
        // Trusted: PAI first, then RPID, then From.
        (&[pai, rpid], true, want(Some("+12125550100"), Some("ACME Corp"), NO, Pai)),
        (&[rpid], true, want(Some("2125550200"), Some("RPID Name"), NO, Rpid)),
        (&[], true, want(Some("+12125551234"), Some("Carrier CNAM"), NO, From)),
        // tel: PAI without a name borrows From's; a sip:+tel pair prefers the number.
        (&[pai_tel], true, want(Some("+12125550101"), Some("Carrier CNAM"), NO, Pai)),
        (&[pai_pair], true, want(Some("+12125550102"), Some("Carrier CNAM"), NO, Pai)),
        // Privacy: id. Trusted keeps the identity for the record; untrusted drops it.
        (&[pai, "Privacy: id"], true, want(Some("+12125550100"), Some("ACME Corp"), ALL, Pai)),
        (&[pai, "Privacy: id"], false, want(None, None, ALL, From)),
        (&[anon, pai, "Privacy: id;critical"], true, want(Some("+12125550100"), Some("ACME Corp"), ALL, Pai)),
        (&["Privacy: user"], false, want(None, None, ALL, From)),
        (&["Privacy: header; session"], true, want(Some("+12125551234"), Some("Carrier CNAM"), ALL, From)),
        // Privacy values that hide nothing.
        (&[pai, "Privacy: none"], true, want(Some("+12125550100"), Some("ACME Corp"), NO, Pai)),
        (&["Privacy: session"], false, want(Some("+12125551234"), Some("Carrier CNAM"), NO, From)),
        // An anonymous From is a privacy request of its own.
        (&[anon], false, want(None, None, ALL, From)),
        (&[anon, pai], true, want(Some("+12125550100"), Some("ACME Corp"), ALL, Pai)),
        (&["From: <sip:restricted@carrier.example>;tag=1"], true, want(None, None, ALL, From)),
        // No number known is not privacy.
        (&["From: \"Unavailable\" <sip:unavailable@carrier.example>;tag=1"], true, want(None, None, NO, From)),
        // RPID privacy per part (draft-ietf-sip-privacy-04 §6).
        (&["Remote-Party-ID: \"R\" <sip:2125550201@gw>;party=calling;privacy=full"], true,
            want(Some("2125550201"), Some("R"), ALL, Rpid)),
        (&["Remote-Party-ID: \"R\" <sip:2125550202@gw>;privacy=uri"], true,
            want(Some("2125550202"), Some("R"), (true, false), Rpid)),
        (&["Remote-Party-ID: \"R\" <sip:2125550203@gw>;privacy=name"], true,
            want(Some("2125550203"), Some("R"), (false, true), Rpid)),
        (&["Remote-Party-ID: \"R\" <sip:2125550203@gw>;privacy=full"], false,
            want(Some("+12125551234"), Some("Carrier CNAM"), NO, From)),
        // party=called is the callee, skipped; party=calling after it is used.
        (&["Remote-Party-ID: <sip:5550000000@gw>;party=called, \"C\" <sip:2125550204@gw>;party=calling"], true,
            want(Some("2125550204"), Some("C"), NO, Rpid)),
        (&["Remote-Party-ID: <sip:5550000000@gw>;party=called"], true,
            want(Some("+12125551234"), Some("Carrier CNAM"), NO, From)),
        // tel: From, escaped display names.
        (&["From: \"O'Brien \\\"Fax\\\"\" <tel:+44-20-7946-0000>;tag=9"], false,
            want(Some("+442079460000"), Some("O'Brien \"Fax\""), NO, From)),
        (&["From: Plain Name <sip:0207946000@uk.example>;tag=9"], false,
            want(Some("0207946000"), Some("Plain Name"), NO, From)),
        (&["From: sip:2125559999@gw.example;tag=9"], false,
            want(Some("2125559999"), None, NO, From)),
        // Malformed identity headers fall through to the next source.
        (&["P-Asserted-Identity: \"unterminated <sip:+12125550100@x>", rpid], true,
            want(Some("2125550200"), Some("RPID Name"), NO, Rpid)),
        (&["P-Asserted-Identity: <>", "Remote-Party-ID: ;;;"], true,
            want(Some("+12125551234"), Some("Carrier CNAM"), NO, From)),
        (&["From: <sip:broken", pai], false, want(None, None, NO, From)),
        (&["From: <sip:broken"], true, want(None, None, NO, From)),
    ];
    for (headers, trusted, want) in table {
        let c = caller(&invite("sip:+15559876543@fax.example", headers), *trusted);
        assert_eq!(got(&c), *want, "trusted={trusted} {headers:?}");
        if c.number_withheld {
            assert_eq!(c.presented_number(), None, "withheld is never presented");
        } else {
            assert_eq!(c.presented_number(), c.number.as_deref());
        }
        if c.name_withheld {
            assert_eq!(c.presented_name(), None);
        }
    }
}

#[test]
fn inbound_identity_judges_trust_on_the_source_given() {
    let cfg = InboundIdentity {
        called_from: CalledFrom::Diversion,
        trusted: PeerAcl::parse(["198.51.100.0/24"]).unwrap(),
    };
    let inv = invite(
        "sip:fax@10.0.0.5",
        &[
            "Diversion: <sip:+15551110000@carrier.example>;reason=unconditional",
            "P-Asserted-Identity: <sip:+12125550100@carrier.example>",
        ],
    );
    let trusted = cfg.parties(&inv, "198.51.100.7".parse().unwrap());
    assert_eq!(trusted.called.unwrap().number, "+15551110000");
    assert_eq!(trusted.caller.number.as_deref(), Some("+12125550100"));
    assert_eq!(trusted.caller.source, CallerSource::AssertedIdentity);
    let stranger = cfg.parties(&inv, "203.0.113.9".parse().unwrap());
    assert_eq!(stranger.caller.number.as_deref(), Some("+12125551234"));
    assert_eq!(stranger.caller.source, CallerSource::From);
}

/// Mutated INVITEs never panic the readers, and what they return keeps its promises.
#[test]
fn mutated_headers_never_panic() {
    let base = invite(
        "sip:+15559990000;npdi@fax.example;user=phone",
        &[
            "From: \"A \\\"B\\\"\" <sip:anonymous@anonymous.invalid>;tag=1",
            "To: <tel:+1-555-444-0000;phone-context=x>",
            "Diversion: <sip:+15551110001@c>;counter=1, <sip:+15551110000@c>",
            "History-Info: <sip:+1555@a?Reason=SIP%3Bcause%3D302>;index=1.1, <sip:+1554@a>;index=1",
            "P-Called-Party-ID: <sip:+15553330000@ims>",
            "P-Asserted-Identity: \"N\" <sip:+12125550100@c;user=phone>, <tel:+12125550100>",
            "Remote-Party-ID: \"R\" <sip:2125550200@gw>;party=calling;privacy=uri",
            "Privacy: id;user",
            "X-Src-IP: 198.51.100.7",
        ],
    );
    let mut text = Vec::new();
    text.extend_from_slice(format!("INVITE {} SIP/2.0\r\n", base.uri).as_bytes());
    for h in base.headers.iter() {
        text.extend_from_slice(format!("{}: {}\r\n", h.name, h.value).as_bytes());
    }
    text.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let head_end = text.len() - 4;
    let first_header = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let alphabet = b"<>\";,@:=+%\\ .?&-_0123456789abcdefsipteltag/";
    let proxies = PeerAcl::parse(["127.0.0.2", "10.0.0.0/8"]).unwrap();
    let mut rng = SeededRng::new(0x1D_E7_17_7E);
    let mut parsed = 0;
    for _ in 0..4000 {
        let mut m = text.clone();
        for _ in 0..1 + rng.next_u64() % 6 {
            let at = first_header + (rng.next_u64() as usize) % (head_end - first_header);
            let b = alphabet[(rng.next_u64() as usize) % alphabet.len()];
            match rng.next_u64() % 3 {
                0 => m[at] = b,
                1 => m.insert(at, b),
                _ => {
                    if m[at] != b'\r' && m[at] != b'\n' {
                        m.remove(at);
                    }
                }
            }
        }
        let Some(req) = request_of(&m) else { continue };
        parsed += 1;
        for from in [
            CalledFrom::RequestUri,
            CalledFrom::To,
            CalledFrom::Diversion,
            CalledFrom::HistoryInfo,
            CalledFrom::PCalledPartyId,
        ] {
            if let Some(c) = called_number(&req, from) {
                assert!(!c.number.is_empty());
            }
        }
        for trusted in [false, true] {
            let c = caller(&req, trusted);
            if !trusted {
                assert_eq!(c.source, CallerSource::From);
                assert!(!c.number_withheld || c.number.is_none(), "{c:?}");
                assert!(!c.name_withheld || c.name.is_none(), "{c:?}");
            }
            assert!(!c.number_withheld || c.presented_number().is_none());
        }
        for packet in ["127.0.0.2", "192.0.2.1"] {
            let packet: IpAddr = packet.parse().unwrap();
            let s = resolve_source(packet, &req.headers, &proxies, Some("X-Src-IP"));
            if !proxies.admits(packet) {
                assert_eq!(s.ip(), packet, "only a proxy names another source");
            }
        }
    }
    assert!(parsed > 1000, "most mutations still parse ({parsed})");
}

// ---------------------------------------------------------------------------------------
// Outbound identity

#[test]
fn number_formats() {
    let nanp = NumberRules::nanp();
    let no_intl = NumberRules {
        international_prefix: None,
        ..NumberRules::nanp()
    };
    use NumberFormat::{National, NationalWithTrunkPrefix as Trunk, E164};
    let table: &[(&str, NumberFormat, &NumberRules, &str)] = &[
        ("+15551234567", E164, &nanp, "+15551234567"),
        ("+15551234567", National, &nanp, "5551234567"),
        ("+15551234567", Trunk, &nanp, "15551234567"),
        ("5551234567", E164, &nanp, "+15551234567"),
        ("1 (555) 123-4567", National, &nanp, "5551234567"),
        ("+442071234567", E164, &nanp, "+442071234567"),
        ("+442071234567", National, &nanp, "011442071234567"),
        ("+442071234567", Trunk, &nanp, "011442071234567"),
        ("+442071234567", National, &no_intl, "+442071234567"),
        // Not a number of any plan: passed through without separators.
        ("1234", National, &nanp, "1234"),
        ("*67-1234", E164, &nanp, "*671234"),
        ("faxserver", E164, &nanp, "faxserver"),
        ("", E164, &nanp, ""),
    ];
    for (input, format, rules, out) in table {
        assert_eq!(
            format_number(input, *format, rules),
            *out,
            "{input} {format:?}"
        );
    }
}

fn peer(addr: &str) -> Peer {
    Peer {
        addr: addr.parse().unwrap(),
        transport: Transport::Udp,
    }
}

fn sip_uri(s: &str) -> SipUri {
    Uri::parse(s).unwrap().as_sip().unwrap().clone()
}

fn header_list(h: &[(HeaderName, String)]) -> Vec<String> {
    h.iter().map(|(n, v)| format!("{n}: {v}")).collect()
}

#[test]
fn outbound_identity_per_gateway() {
    let gateway = sip_uri("sip:sip.carrier.example:5080;transport=udp");
    let proxy = peer("10.0.0.5:5060");
    let me = OutboundCaller {
        number: "+12125550100",
        name: Some("ACME Fax"),
        withheld: false,
    };
    let hidden = OutboundCaller {
        withheld: true,
        ..me
    };
    let full = GatewayIdentity {
        from_format: NumberFormat::National,
        from_domain: Some("realm.example".into()),
        p_asserted_identity: true,
        remote_party_id: true,
        user_phone: true,
        ..GatewayIdentity::default()
    };
    struct Case {
        id: GatewayIdentity,
        caller: OutboundCaller<'static>,
        callee: &'static str,
        target: &'static str,
        from: &'static str,
        to: &'static str,
        headers: &'static [&'static str],
    }
    let cases = [
        // Defaults: E.164 everywhere, From on the gateway's host, no extra headers.
        Case {
            id: GatewayIdentity::default(),
            caller: me,
            callee: "5559876543",
            target: "sip:+15559876543@sip.carrier.example:5080;transport=udp",
            from: "\"ACME Fax\" <sip:+12125550100@sip.carrier.example>",
            to: "<sip:+15559876543@sip.carrier.example:5080>",
            headers: &[],
        },
        // National From with the trunk prefix, a fixed display name, national callee.
        Case {
            id: GatewayIdentity {
                from_format: NumberFormat::NationalWithTrunkPrefix,
                to_format: NumberFormat::National,
                display_name: Some("Fax Service".into()),
                ..GatewayIdentity::default()
            },
            caller: me,
            callee: "+15559876543",
            target: "sip:5559876543@sip.carrier.example:5080;transport=udp",
            from: "\"Fax Service\" <sip:12125550100@sip.carrier.example>",
            to: "<sip:5559876543@sip.carrier.example:5080>",
            headers: &[],
        },
        // Realm, PAI, RPID, user=phone.
        Case {
            id: full.clone(),
            caller: me,
            callee: "+15559876543",
            target: "sip:+15559876543@sip.carrier.example:5080;transport=udp;user=phone",
            from: "\"ACME Fax\" <sip:2125550100@realm.example;user=phone>",
            to: "<sip:+15559876543@sip.carrier.example:5080;user=phone>",
            headers: &[
                "P-Asserted-Identity: \"ACME Fax\" <sip:2125550100@realm.example;user=phone>",
                "Remote-Party-ID: \"ACME Fax\" <sip:2125550100@realm.example;user=phone>;party=calling;screen=yes;privacy=off",
            ],
        },
        // Withheld: anonymous From, the identity only in PAI/RPID, Privacy: id.
        Case {
            id: full.clone(),
            caller: hidden,
            callee: "+15559876543",
            target: "sip:+15559876543@sip.carrier.example:5080;transport=udp;user=phone",
            from: "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
            to: "<sip:+15559876543@sip.carrier.example:5080;user=phone>",
            headers: &[
                "P-Asserted-Identity: \"ACME Fax\" <sip:2125550100@realm.example;user=phone>",
                "Remote-Party-ID: \"ACME Fax\" <sip:2125550100@realm.example;user=phone>;party=calling;screen=yes;privacy=full",
                "Privacy: id",
            ],
        },
        // Withheld without asserted identities: nothing reveals the number.
        Case {
            id: GatewayIdentity::default(),
            caller: hidden,
            callee: "+15559876543",
            target: "sip:+15559876543@sip.carrier.example:5080;transport=udp",
            from: "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
            to: "<sip:+15559876543@sip.carrier.example:5080>",
            headers: &["Privacy: id"],
        },
        // No number of ours: anonymous From, no identity headers, nothing to hide.
        Case {
            id: full.clone(),
            caller: OutboundCaller::default(),
            callee: "+442071234567",
            target: "sip:+442071234567@sip.carrier.example:5080;transport=udp;user=phone",
            from: "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
            to: "<sip:+442071234567@sip.carrier.example:5080;user=phone>",
            headers: &[],
        },
        // Characters a URI user may not hold are escaped; a non-number gets no user=phone.
        Case {
            id: full,
            caller: OutboundCaller {
                number: "fax desk",
                name: None,
                withheld: false,
            },
            callee: "*72#5551234",
            target: "sip:*72%235551234@sip.carrier.example:5080;transport=udp;user=phone",
            from: "<sip:fax%20desk@realm.example>",
            to: "<sip:*72%235551234@sip.carrier.example:5080;user=phone>",
            headers: &[
                "P-Asserted-Identity: <sip:fax%20desk@realm.example>",
                "Remote-Party-ID: <sip:fax%20desk@realm.example>;party=calling;screen=yes;privacy=off",
            ],
        },
    ];
    for c in cases {
        let call =
            c.id.outgoing_call(&c.caller, c.callee, &gateway, proxy)
                .unwrap();
        assert_eq!(call.target.to_string(), c.target);
        assert_eq!(call.from.to_string(), c.from);
        assert_eq!(call.to.to_string(), c.to);
        assert_eq!(header_list(&call.headers), c.headers);
        // The outbound proxy is where the INVITE goes, and nowhere in the identity.
        assert_eq!(call.peer, proxy);
        assert!(!call.from.to_string().contains("10.0.0.5"));
        assert!(call.credentials.is_none());
        // What we write must parse back as the same URIs.
        assert_eq!(Uri::parse(c.target).unwrap(), call.target);
    }
}

#[test]
fn outbound_identity_refuses_what_it_cannot_write() {
    let gateway = sip_uri("sip:gw.example");
    let me = OutboundCaller {
        number: "+12125550100",
        ..OutboundCaller::default()
    };
    assert_eq!(
        GatewayIdentity::default()
            .outgoing_call(&me, " ", &gateway, peer("192.0.2.1:5060"))
            .unwrap_err(),
        IdentityError::NoCallee
    );
    let bad = GatewayIdentity {
        from_domain: Some("realm example".into()),
        ..GatewayIdentity::default()
    };
    assert_eq!(
        bad.outgoing_call(&me, "+15559876543", &gateway, peer("192.0.2.1:5060"))
            .unwrap_err(),
        IdentityError::BadDomain("realm example".into())
    );
}

/// What we send outbound reads back inbound as the same caller, privacy included.
#[test]
fn outbound_identity_reads_back_inbound() {
    let gateway = sip_uri("sip:carrier.example");
    for (pai, rpid) in [(true, false), (false, true), (true, true)] {
        for withheld in [false, true] {
            let id = GatewayIdentity {
                from_domain: Some("realm.example".into()),
                p_asserted_identity: pai,
                remote_party_id: rpid,
                ..GatewayIdentity::default()
            };
            let me = OutboundCaller {
                number: "+12125550100",
                name: Some("ACME Fax"),
                withheld,
            };
            let call = id
                .outgoing_call(&me, "+15559876543", &gateway, peer("192.0.2.1:5060"))
                .unwrap();
            let mut lines = vec![
                format!("From: {};tag=1", call.from),
                format!("To: {}", call.to),
            ];
            lines.extend(header_list(&call.headers));
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let inv = invite(&call.target.to_string(), &refs);
            let c = caller(&inv, true);
            assert_eq!(c.number.as_deref(), Some("+12125550100"), "{lines:?}");
            assert_eq!(c.name.as_deref(), Some("ACME Fax"));
            assert_eq!(c.number_withheld, withheld);
            let source = if pai {
                CallerSource::AssertedIdentity
            } else {
                CallerSource::RemotePartyId
            };
            assert_eq!(c.source, source);
            let untrusted = caller(&inv, false);
            assert_eq!(untrusted.presented_number().is_some(), !withheld);
            let called = called_number(&inv, CalledFrom::RequestUri).unwrap();
            assert_eq!(called.number, "+15559876543");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Real source behind a trusted proxy

#[test]
fn real_source_table() {
    let proxies = PeerAcl::parse(["127.0.0.2", "10.1.0.0/16"]).unwrap();
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let headers = |lines: &[&str]| -> Headers { invite("sip:1@x", lines).headers };
    let proxy_unnamed = |p: &str, bad: Option<&str>| CallSource::ProxyUnnamed {
        proxy: ip(p),
        bad_value: bad.map(str::to_owned),
    };
    let table: Vec<(&str, Vec<&str>, Option<&str>, CallSource)> = vec![
        (
            "192.0.2.1",
            vec![],
            Some("X-Src-IP"),
            CallSource::Direct(ip("192.0.2.1")),
        ),
        (
            "192.0.2.1",
            vec!["X-Src-IP: 198.51.100.7"],
            Some("X-Src-IP"),
            CallSource::Spoofed {
                packet: ip("192.0.2.1"),
                claimed: "198.51.100.7".into(),
            },
        ),
        (
            "10.1.2.3",
            vec!["x-src-ip: 198.51.100.7"],
            Some("X-Src-IP"),
            CallSource::Proxied {
                proxy: ip("10.1.2.3"),
                real: ip("198.51.100.7"),
            },
        ),
        (
            "127.0.0.2",
            vec!["X-Real-Source: 198.51.100.7:5060"],
            Some("x-real-source"),
            CallSource::Proxied {
                proxy: ip("127.0.0.2"),
                real: ip("198.51.100.7"),
            },
        ),
        (
            "127.0.0.2",
            vec!["X-Src-IP: [2001:db8::7]:5060"],
            Some("X-Src-IP"),
            CallSource::Proxied {
                proxy: ip("127.0.0.2"),
                real: ip("2001:db8::7"),
            },
        ),
        (
            "127.0.0.2",
            vec!["X-Src-IP: 2001:db8::8"],
            Some("X-Src-IP"),
            CallSource::Proxied {
                proxy: ip("127.0.0.2"),
                real: ip("2001:db8::8"),
            },
        ),
        (
            "127.0.0.2",
            vec![],
            Some("X-Src-IP"),
            proxy_unnamed("127.0.0.2", None),
        ),
        // No header configured: a proxy's calls are its own.
        (
            "127.0.0.2",
            vec!["X-Src-IP: 198.51.100.7"],
            None,
            proxy_unnamed("127.0.0.2", None),
        ),
        // Unusable values from a proxy: judged by the proxy's address, never guessed.
        (
            "127.0.0.2",
            vec!["X-Src-IP: not-an-ip"],
            Some("X-Src-IP"),
            proxy_unnamed("127.0.0.2", Some("not-an-ip")),
        ),
        (
            "127.0.0.2",
            vec!["X-Src-IP: 198.51.100.7", "X-Src-IP: 203.0.113.9"],
            Some("X-Src-IP"),
            proxy_unnamed("127.0.0.2", Some("198.51.100.7, 203.0.113.9")),
        ),
        (
            "127.0.0.2",
            vec!["X-Src-IP: 203.0.113.9, 198.51.100.7"],
            Some("X-Src-IP"),
            proxy_unnamed("127.0.0.2", Some("203.0.113.9, 198.51.100.7")),
        ),
        (
            "127.0.0.2",
            vec!["X-Src-IP: 300.1.1.1"],
            Some("X-Src-IP"),
            proxy_unnamed("127.0.0.2", Some("300.1.1.1")),
        ),
    ];
    for (packet, lines, header, want) in table {
        let got = resolve_source(ip(packet), &headers(&lines), &proxies, header);
        assert_eq!(got, want, "{packet} {lines:?}");
    }
    // Nobody is a proxy by default, so nobody can name a source.
    let got = resolve_source(
        ip("127.0.0.2"),
        &headers(&["X-Src-IP: 198.51.100.7"]),
        &PeerAcl::default(),
        Some("X-Src-IP"),
    );
    assert_eq!(got.ip(), ip("127.0.0.2"));
    assert_eq!(got.proxy(), None);
    assert!(got.warning("X-Src-IP").unwrap().contains("ignored"));
}

// ---------------------------------------------------------------------------------------
// The agent's ACL behind a trusted proxy, on loopback

const WAIT: Duration = Duration::from_secs(5);
const PROXY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const ADMITTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

async fn receiver() -> (SipAgent, mpsc::Receiver<IncomingCall>) {
    let mut cfg = AgentConfig::new(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0));
    cfg.acl = PeerAcl::parse(["198.51.100.0/24", "127.0.0.4"]).unwrap();
    cfg.trusted_proxies = PeerAcl::parse(["127.0.0.2"]).unwrap();
    cfg.real_source_header = Some("X-Src-IP".into());
    SipAgent::start(cfg).await.unwrap()
}

/// Sends a hand-written INVITE from `from` with `extra` header lines; returns the socket.
async fn send_invite(from: Ipv4Addr, to: SocketAddr, n: u32, extra: &[&str]) -> UdpSocket {
    let sock = UdpSocket::bind(SocketAddr::new(from.into(), 0))
        .await
        .unwrap();
    let me = sock.local_addr().unwrap();
    let mut text = format!(
        "INVITE sip:+15559876543@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-identity-{n};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+12125550100@carrier.example>;tag=t{n}\r\n\
         To: <sip:+15559876543@fax.example>\r\n\
         Call-ID: identity-{n}@{from}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:gw@{me}>\r\n"
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    sock.send_to(text.as_bytes(), to).await.unwrap();
    sock
}

/// The status of the first final response on `sock`.
async fn final_status(sock: &UdpSocket) -> u16 {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        let Ok(Message::Response(r)) = parse_datagram(&buf[..n]) else {
            panic!("not a response: {}", String::from_utf8_lossy(&buf[..n]));
        };
        let code = r.status.as_u16();
        if code >= 200 {
            return code;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_acl_uses_the_real_source_only_from_trusted_proxies() {
    let (agent, mut incoming) = receiver().await;
    let to = agent.local_addr();
    // Refused: each must get 403 and never reach the application.
    let refused: &[(Ipv4Addr, &[&str])] = &[
        // A stranger naming an admitted source: the spoof that must never work.
        (STRANGER, &["X-Src-IP: 198.51.100.7"]),
        (STRANGER, &["x-src-ip: 127.0.0.4"]),
        (STRANGER, &[]),
        // The proxy without a header is judged by its own address, which is not admitted.
        (PROXY, &[]),
        // The proxy naming a source outside the ACL.
        (PROXY, &["X-Src-IP: 203.0.113.9"]),
        // A client's copy passed through beside the proxy's: ambiguous, so the proxy's own.
        (PROXY, &["X-Src-IP: 198.51.100.7", "X-Src-IP: 203.0.113.9"]),
        (PROXY, &["X-Src-IP: somewhere"]),
    ];
    for (n, (from, extra)) in refused.iter().enumerate() {
        let sock = send_invite(*from, to, n as u32, extra).await;
        assert_eq!(final_status(&sock).await, 403, "{from} {extra:?}");
        assert!(
            incoming.try_recv().is_err(),
            "{from} {extra:?} reached the application"
        );
    }
    // Admitted: the call arrives with the real source; we answer 486 to close the loop.
    let admitted: &[(Ipv4Addr, &[&str], Ipv4Addr, Option<Ipv4Addr>)] = &[
        (
            PROXY,
            &["X-Src-IP: 198.51.100.7"],
            Ipv4Addr::new(198, 51, 100, 7),
            Some(PROXY),
        ),
        (
            PROXY,
            &["X-Src-IP: 198.51.100.8:5060"],
            Ipv4Addr::new(198, 51, 100, 8),
            Some(PROXY),
        ),
        // An admitted direct source's header is ignored, not obeyed.
        (ADMITTED, &["X-Src-IP: 203.0.113.9"], ADMITTED, None),
        (ADMITTED, &[], ADMITTED, None),
    ];
    for (n, (from, extra, source, proxy)) in admitted.iter().enumerate() {
        let sock = send_invite(*from, to, 100 + n as u32, extra).await;
        let call = timeout(WAIT, incoming.recv())
            .await
            .expect("the call arrives in time")
            .expect("agent running");
        assert_eq!(call.source, IpAddr::from(*source), "{from} {extra:?}");
        assert_eq!(call.proxy, proxy.map(IpAddr::from));
        assert_eq!(
            call.peer.addr,
            sock.local_addr().unwrap(),
            "replies go to the packet"
        );
        call.handle.reject(486);
        assert_eq!(final_status(&sock).await, 486);
    }
}

/// A proxy that is itself a SIP agent places a call built from a [`GatewayIdentity`]; the
/// receiving node sees the real source and reads the asserted caller as trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_call_carries_identity_end_to_end() {
    let (agent, mut incoming) = receiver().await;
    let (proxy, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(PROXY.into(), 0)))
        .await
        .unwrap();
    let id = GatewayIdentity {
        from_format: NumberFormat::National,
        from_domain: Some("realm.example".into()),
        p_asserted_identity: true,
        ..GatewayIdentity::default()
    };
    let me = OutboundCaller {
        number: "+12125550100",
        name: Some("ACME Fax"),
        withheld: true,
    };
    let gateway = sip_uri(&format!("sip:{}", agent.local_addr()));
    let next_hop = Peer {
        addr: agent.local_addr(),
        transport: Transport::Udp,
    };
    let mut call = id
        .outgoing_call(&me, "5559876543", &gateway, next_hop)
        .unwrap();
    call.headers
        .push((HeaderName::Other("X-Src-IP".into()), "198.51.100.7".into()));
    let params = CallParams {
        target: call.target,
        from: call.from,
        to: call.to,
        peer: call.peer,
        media: MediaConfig {
            caps: Capabilities::new(PROXY.into(), 40000, 40002),
            policy: Policy::default(),
            offer: OfferMedia::Audio,
        },
        delayed_offer: false,
        credentials: None,
        headers: call.headers,
    };
    let mut out = proxy.invite(params).await.unwrap();
    let inc = timeout(WAIT, incoming.recv())
        .await
        .expect("the call arrives in time")
        .expect("agent running");
    assert_eq!(inc.source, IpAddr::from(Ipv4Addr::new(198, 51, 100, 7)));
    assert_eq!(inc.proxy, Some(IpAddr::from(PROXY)));

    let carrier = InboundIdentity {
        called_from: CalledFrom::RequestUri,
        trusted: PeerAcl::parse(["198.51.100.0/24"]).unwrap(),
    };
    let parties = inc.parties(&carrier);
    assert_eq!(parties.called.unwrap().number, "+15559876543");
    let c = parties.caller;
    assert_eq!(c.source, CallerSource::AssertedIdentity);
    assert_eq!(c.number.as_deref(), Some("2125550100"));
    assert_eq!(c.name.as_deref(), Some("ACME Fax"));
    assert!(c.number_withheld && c.presented_number().is_none());
    let from = inc.request.headers.from().unwrap();
    assert_eq!(from.uri.to_string(), "sip:anonymous@anonymous.invalid");
    // Judged as an untrusted source, the withheld caller is not kept at all.
    let stranger = InboundIdentity {
        trusted: PeerAcl::default(),
        ..carrier
    };
    let c = inc.parties(&stranger).caller;
    assert_eq!((c.number, c.source), (None, CallerSource::From));

    inc.handle.reject(486);
    let status = loop {
        match timeout(WAIT, out.next()).await.expect("an answer in time") {
            Some(CallEvent::FinalResponse { status, .. }) => break status,
            Some(_) => continue,
            None => panic!("agent stopped"),
        }
    };
    assert_eq!(status, 486);
}
