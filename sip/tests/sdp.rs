//! Offer/answer with realistic carrier and PBX SDP, written inline in the style each
//! product emits, plus the SDP extracted from the FB-1 capture (`tests/fixtures/`).

use std::net::{IpAddr, SocketAddr};

use sip::sdp::{
    accept_answer, Agreed, Capabilities, Direction, LocalSdp, OfferMedia, Policy, Preference,
    RateManagement, SessionDescription, UdpEc, G711,
};

const FREESWITCH_T38_REINVITE: &str = "v=0\r\n\
o=FreeSWITCH 1700000000 1700000001 IN IP4 203.0.113.10\r\n\
s=FreeSWITCH\r\n\
c=IN IP4 203.0.113.10\r\n\
t=0 0\r\n\
m=image 24580 udptl t38\r\n\
a=T38FaxVersion:0\r\n\
a=T38MaxBitRate:14400\r\n\
a=T38FaxFillBitRemoval\r\n\
a=T38FaxRateManagement:transferredTCF\r\n\
a=T38FaxMaxBuffer:2000\r\n\
a=T38FaxMaxDatagram:400\r\n\
a=T38FaxUdpEC:t38UDPRedundancy\r\n";

const FREESWITCH_AUDIO: &str = "v=0\r\n\
o=FreeSWITCH 1700000000 1700000000 IN IP4 203.0.113.10\r\n\
s=FreeSWITCH\r\n\
c=IN IP4 203.0.113.10\r\n\
t=0 0\r\n\
m=audio 24576 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
a=rtcp:24577 IN IP4 203.0.113.10\r\n";

const ASTERISK_T38: &str = "v=0\r\n\
o=- 1234 1236 IN IP4 198.51.100.20\r\n\
s=Asterisk\r\n\
c=IN IP4 198.51.100.20\r\n\
t=0 0\r\n\
m=image 4000 udptl t38\r\n\
a=T38FaxVersion:0\r\n\
a=T38MaxBitRate:14400\r\n\
a=T38FaxRateManagement:transferredTCF\r\n\
a=T38FaxMaxDatagram:400\r\n\
a=T38FaxUdpEC:t38UDPRedundancy\r\n";

const CISCO_CUBE_T38: &str = "v=0\r\n\
o=CiscoSystemsSIP-GW-UserAgent 8523 2145 IN IP4 192.0.2.50\r\n\
s=SIP Call\r\n\
c=IN IP4 192.0.2.50\r\n\
t=0 0\r\n\
m=image 17122 udptl t38\r\n\
c=IN IP4 192.0.2.51\r\n\
a=T38FaxVersion:0\r\n\
a=T38MaxBitRate:9600\r\n\
a=T38FaxFillBitRemoval:0\r\n\
a=T38FaxTranscodingMMR:0\r\n\
a=T38FaxTranscodingJBIG:0\r\n\
a=T38FaxRateManagement:transferredTCF\r\n\
a=T38FaxMaxBuffer:200\r\n\
a=T38FaxMaxDatagram:320\r\n\
a=T38FaxUdpEC:t38UDPRedundancy\r\n";

const AUDIOCODES_AUDIO_AND_IMAGE: &str = "v=0\r\n\
o=AudiocodesGW 1426 5713 IN IP4 10.1.1.5\r\n\
s=Phone-Call\r\n\
c=IN IP4 10.1.1.5\r\n\
t=0 0\r\n\
m=audio 6010 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
m=image 6012 udptl t38\r\n\
a=T38FaxVersion:3\r\n\
a=T38MaxBitRate:33600\r\n\
a=T38FaxMaxBuffer:1024\r\n\
a=T38FaxMaxDatagram:238\r\n\
a=T38FaxRateManagement:transferredTCF\r\n\
a=T38FaxUdpEC:t38UDPRedundancy\r\n";

const SONUS_LOWER_CASE_FEC: &str = "v=0\r\n\
o=Sonus_UAC 24453 3563 IN IP4 192.0.2.77\r\n\
s=SIP Media Capabilities\r\n\
c=IN IP4 192.0.2.77\r\n\
t=0 0\r\n\
m=image 1096 udptl t38\r\n\
a=t38faxversion:1\r\n\
a=t38maxbitrate:14400\r\n\
a=t38faxfillbitremoval:1\r\n\
a=t38faxtranscodingmmr:0\r\n\
a=t38faxtranscodingjbig:0\r\n\
a=t38faxratemanagement:transferredtcf\r\n\
a=t38faxmaxbuffer:2000\r\n\
a=t38faxmaxdatagram:512\r\n\
a=t38faxudpec:t38udpfec\r\n";

const CARRIER_G729_ONLY: &str = "v=0\r\n\
o=- 3886 3886 IN IP4 203.0.113.99\r\n\
s=-\r\n\
c=IN IP4 203.0.113.99\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 18 101\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

const SRTP_ONLY: &str = "v=0\r\n\
o=- 1 1 IN IP4 203.0.113.7\r\n\
s=-\r\n\
c=IN IP4 203.0.113.7\r\n\
t=0 0\r\n\
m=audio 40000 RTP/SAVP 0 8\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";

const AUDIO_AND_ZERO_PORT_IMAGE: &str = "v=0\r\n\
o=- 77 77 IN IP4 203.0.113.8\r\n\
s=-\r\n\
c=IN IP4 203.0.113.8\r\n\
t=0 0\r\n\
m=audio 41000 RTP/AVP 0\r\n\
m=image 0 udptl t38\r\n";

const TCP_T38_AND_AUDIO: &str = "v=0\r\n\
o=- 9 9 IN IP4 203.0.113.9\r\n\
s=-\r\n\
c=IN IP4 203.0.113.9\r\n\
t=0 0\r\n\
m=image 5000 tcp t38\r\n\
a=T38FaxRateManagement:localTCF\r\n\
m=audio 42000 RTP/AVP 8\r\n\
a=recvonly\r\n";

const IPV6_PBX_WITH_VIDEO: &str = "v=0\r\n\
o=pbx 5 6 IN IP6 2001:db8::5\r\n\
s=-\r\n\
t=0 0\r\n\
m=video 43000 RTP/AVP 96\r\n\
c=IN IP6 2001:db8::5\r\n\
a=rtpmap:96 H264/90000\r\n\
m=audio 43002 RTP/AVP 0\r\n\
c=IN IP6 2001:db8::6\r\n\
a=ptime:30\r\n";

fn caps() -> Capabilities {
    Capabilities::new("192.0.2.200".parse().unwrap(), 20000, 20002)
}

fn parse(s: &str) -> SessionDescription {
    SessionDescription::parse(s.as_bytes()).unwrap()
}

fn t38(agreed: &Agreed) -> &sip::sdp::T38Session {
    match agreed {
        Agreed::T38(t) => t,
        other => panic!("expected T.38, got {other:?}"),
    }
}

fn audio(agreed: &Agreed) -> &sip::sdp::AudioSession {
    match agreed {
        Agreed::Audio(a) => a,
        other => panic!("expected audio, got {other:?}"),
    }
}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn every_inline_offer_round_trips_byte_for_byte() {
    for sdp in [
        FREESWITCH_T38_REINVITE,
        FREESWITCH_AUDIO,
        ASTERISK_T38,
        CISCO_CUBE_T38,
        AUDIOCODES_AUDIO_AND_IMAGE,
        SONUS_LOWER_CASE_FEC,
        CARRIER_G729_ONLY,
        SRTP_ONLY,
        AUDIO_AND_ZERO_PORT_IMAGE,
        TCP_T38_AND_AUDIO,
        IPV6_PBX_WITH_VIDEO,
    ] {
        assert_eq!(parse(sdp).to_text(), sdp);
    }
}

#[test]
fn freeswitch_t38_reinvite_is_answered_with_our_limits() {
    let mut local = LocalSdp::new(42, 1);
    let a = local
        .answer(&parse(FREESWITCH_T38_REINVITE), &caps(), &Policy::default())
        .unwrap();
    let t = t38(&a.agreed);
    assert_eq!(t.remote, addr("203.0.113.10:24580"));
    assert_eq!((t.version, t.max_bit_rate), (0, 14400));
    assert_eq!(t.udp_ec, UdpEc::Redundancy);
    assert_eq!(t.rate_management, RateManagement::TransferredTcf);
    assert!(
        !t.fill_bit_removal,
        "we do not take fill-bit removal by default"
    );
    assert_eq!(t.remote_max_datagram, Some(400));
    assert_eq!(
        a.sdp.to_text(),
        "v=0\r\no=faxserver 42 1 IN IP4 192.0.2.200\r\ns=faxserver\r\nc=IN IP4 192.0.2.200\r\nt=0 0\r\n\
         m=image 20002 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n\
         a=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxBuffer:2000\r\na=T38FaxMaxDatagram:400\r\n\
         a=T38FaxUdpEC:t38UDPRedundancy\r\n"
    );
}

#[test]
fn freeswitch_audio_prefers_the_offer_order_and_keeps_its_event_range() {
    let mut local = LocalSdp::new(1, 1);
    let a = local
        .answer(&parse(FREESWITCH_AUDIO), &caps(), &Policy::default())
        .unwrap();
    let au = audio(&a.agreed);
    assert_eq!(
        (au.codec, au.payload_type, au.telephone_event),
        (G711::Pcmu, 0, Some(101))
    );
    assert_eq!(au.remote, addr("203.0.113.10:24576"));
    let m = &a.sdp.media[0];
    assert_eq!(m.formats, ["0", "101"]);
    assert_eq!(m.attribute_value("fmtp"), Some("101 0-16"));
    assert_eq!(m.direction(), Some(Direction::SendRecv));
}

#[test]
fn asterisk_and_cisco_t38_limits_are_honoured() {
    let mut local = LocalSdp::new(1, 1);
    let a = local
        .answer(&parse(ASTERISK_T38), &caps(), &Policy::default())
        .unwrap();
    assert_eq!(t38(&a.agreed).remote_max_datagram, Some(400));
    assert_eq!(t38(&a.agreed).remote_max_buffer, None);

    let a = local
        .answer(&parse(CISCO_CUBE_T38), &caps(), &Policy::default())
        .unwrap();
    let t = t38(&a.agreed);
    assert_eq!(t.remote, addr("192.0.2.51:17122"), "media-level c= wins");
    assert_eq!(t.max_bit_rate, 9600, "the lower rate");
    assert_eq!(t.remote_max_datagram, Some(320));
    assert!(!t.fill_bit_removal, ":0 means false");
    assert_eq!(
        a.sdp.media[0].attribute_value("T38MaxBitRate"),
        Some("9600")
    );
    assert!(a.sdp.media[0].attribute("T38FaxTranscodingMMR").is_none());
}

#[test]
fn audiocodes_initial_offer_with_both_streams() {
    let offer = parse(AUDIOCODES_AUDIO_AND_IMAGE);
    let mut local = LocalSdp::new(1, 1);
    let a = local.answer(&offer, &caps(), &Policy::default()).unwrap();
    let t = t38(&a.agreed);
    assert_eq!(t.version, 0, "lower of 3 and our 0");
    assert_eq!(t.max_bit_rate, 14400);
    assert_eq!(t.remote_max_datagram, Some(238));
    assert_eq!(a.sdp.media.len(), 2, "never drop an m-line");
    assert_eq!(
        (a.sdp.media[0].media.as_str(), a.sdp.media[0].port),
        ("audio", 0)
    );
    assert_eq!(a.sdp.media[0].formats, ["8", "0", "101"]);
    assert_eq!(a.sdp.media[1].port, 20002);

    let mut caps3 = caps();
    caps3.t38.max_version = 3;
    caps3.t38.max_bit_rate = 33600;
    let a = LocalSdp::new(1, 1)
        .answer(&offer, &caps3, &Policy::default())
        .unwrap();
    assert_eq!(
        (t38(&a.agreed).version, t38(&a.agreed).max_bit_rate),
        (3, 33600)
    );

    let prefer_audio = Policy {
        prefer: Preference::Audio,
        ..Policy::default()
    };
    let a = LocalSdp::new(1, 1)
        .answer(&offer, &caps(), &prefer_audio)
        .unwrap();
    let au = audio(&a.agreed);
    assert_eq!(
        (au.codec, au.payload_type),
        (G711::Pcma, 8),
        "the offerer's first choice"
    );
    assert_eq!(a.sdp.media[1].port, 0);
    assert_eq!(a.sdp.media[1].formats, ["t38"]);
}

#[test]
fn sonus_lower_case_attributes_and_fec() {
    let offer = parse(SONUS_LOWER_CASE_FEC);
    let a = LocalSdp::new(1, 1)
        .answer(&offer, &caps(), &Policy::default())
        .unwrap();
    let t = t38(&a.agreed);
    assert_eq!(t.udp_ec, UdpEc::Fec);
    assert_eq!(t.version, 0);
    assert_eq!(t.remote_max_datagram, Some(512));
    assert_eq!(
        a.sdp.media[0].attribute_value("T38FaxUdpEC"),
        Some("t38UDPFEC")
    );

    let mut no_fec = caps();
    no_fec.t38.error_correction = vec![UdpEc::Redundancy];
    no_fec.t38.fill_bit_removal = true;
    let a = LocalSdp::new(1, 1)
        .answer(&offer, &no_fec, &Policy::default())
        .unwrap();
    assert_eq!(t38(&a.agreed).udp_ec, UdpEc::Redundancy);
    assert!(t38(&a.agreed).fill_bit_removal);
    assert!(a.sdp.media[0].attribute("T38FaxFillBitRemoval").is_some());
}

#[test]
fn nothing_acceptable_is_a_clean_488() {
    let mut local = LocalSdp::new(1, 1);
    let e = local
        .answer(&parse(CARRIER_G729_ONLY), &caps(), &Policy::default())
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.warning), (488, 305));
    assert_eq!(
        e.warning_value("fax.example"),
        "305 fax.example \"Incompatible media format\""
    );
    let e = local
        .answer(&parse(SRTP_ONLY), &caps(), &Policy::default())
        .unwrap_err();
    assert_eq!(e.warning, 302);
    let no_t38 = Policy {
        accept_t38: false,
        ..Policy::default()
    };
    let e = local
        .answer(&parse(FREESWITCH_T38_REINVITE), &caps(), &no_t38)
        .unwrap_err();
    assert_eq!(e.warning, 304);
    let all_zero = parse(&AUDIO_AND_ZERO_PORT_IMAGE.replace("41000", "0"));
    assert!(local
        .answer(&all_zero, &caps(), &Policy::default())
        .is_err());
    assert_eq!(local.version(), 1, "refusals do not touch the o= version");
}

#[test]
fn port_zero_and_tcp_streams_are_declined_while_the_rest_is_answered() {
    let a = LocalSdp::new(1, 1)
        .answer(
            &parse(AUDIO_AND_ZERO_PORT_IMAGE),
            &caps(),
            &Policy::default(),
        )
        .unwrap();
    assert_eq!(audio(&a.agreed).codec, G711::Pcmu);
    assert_eq!(audio(&a.agreed).telephone_event, None);
    assert_eq!(
        (a.sdp.media[1].media.as_str(), a.sdp.media[1].port),
        ("image", 0)
    );

    let a = LocalSdp::new(1, 1)
        .answer(&parse(TCP_T38_AND_AUDIO), &caps(), &Policy::default())
        .unwrap();
    assert_eq!(
        (a.sdp.media[0].proto.as_str(), a.sdp.media[0].port),
        ("tcp", 0)
    );
    let au = audio(&a.agreed);
    assert_eq!(au.codec, G711::Pcma);
    assert_eq!(au.direction, Direction::SendOnly, "answer to recvonly");
    assert_eq!(a.sdp.media[1].direction(), Some(Direction::SendOnly));
}

#[test]
fn ipv6_media_level_connection_and_video_declined() {
    let mut c = caps();
    c.address = "2001:db8::200".parse::<IpAddr>().unwrap();
    let a = LocalSdp::new(1, 1)
        .answer(&parse(IPV6_PBX_WITH_VIDEO), &c, &Policy::default())
        .unwrap();
    let au = audio(&a.agreed);
    assert_eq!(au.remote, addr("[2001:db8::6]:43002"));
    assert_eq!(au.ptime, 30);
    assert_eq!(a.sdp.media[0].port, 0);
    assert_eq!(a.sdp.connection.as_ref().unwrap().addr_type, "IP6");
    assert!(a
        .sdp
        .to_text()
        .contains("o=faxserver 1 1 IN IP6 2001:db8::200\r\n"));
}

#[test]
fn o_version_changes_only_with_content() {
    let mut local = LocalSdp::new(7, 100);
    let audio_offer = parse(FREESWITCH_AUDIO);
    let first = local
        .answer(&audio_offer, &caps(), &Policy::default())
        .unwrap()
        .sdp
        .to_bytes();
    let refresh = local
        .answer(&audio_offer, &caps(), &Policy::default())
        .unwrap()
        .sdp
        .to_bytes();
    assert_eq!(first, refresh, "a session refresh gets identical bytes");
    assert_eq!(local.version(), 100);

    let t38_offer = parse(FREESWITCH_T38_REINVITE);
    let fax = local
        .answer(&t38_offer, &caps(), &Policy::default())
        .unwrap()
        .sdp;
    assert_eq!(fax.origin.session_version, "101");
    let fax_refresh = local
        .answer(&t38_offer, &caps(), &Policy::default())
        .unwrap()
        .sdp;
    assert_eq!(
        fax.to_bytes(),
        fax_refresh.to_bytes(),
        "refresh during T.38 keeps the fax SDP"
    );

    let ours = local.offer(&caps(), OfferMedia::Audio);
    assert_eq!(ours.origin.session_version, "102");
    let again = local.offer(&caps(), OfferMedia::Audio);
    assert_eq!(ours.to_bytes(), again.to_bytes());
}

#[test]
fn our_offers_and_their_answers() {
    let mut local = LocalSdp::new(5, 1);
    let offer = local.offer(&caps(), OfferMedia::T38);
    let text = offer.to_text();
    assert!(
        text.contains("m=image 20002 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n")
    );
    assert!(text.contains("a=T38FaxUdpEC:t38UDPRedundancy\r\n"));

    // The far end answers our T.38 offer with its own limits.
    let agreed = accept_answer(&offer, &parse(ASTERISK_T38), &caps()).unwrap();
    assert_eq!(t38(&agreed).remote, addr("198.51.100.20:4000"));
    assert_eq!(t38(&agreed).remote_max_datagram, Some(400));

    // A refusal of the stream (port 0) is like a 488: stay on audio.
    let refused = parse(&ASTERISK_T38.replace("m=image 4000", "m=image 0"));
    assert!(accept_answer(&offer, &refused, &caps()).is_err());

    let audio_offer = local.offer(&caps(), OfferMedia::Audio);
    assert_eq!(audio_offer.media[0].formats, ["0", "8", "101"]);
    let answer = parse(FREESWITCH_AUDIO);
    let agreed = accept_answer(&audio_offer, &answer, &caps()).unwrap();
    assert_eq!(audio(&agreed).codec, G711::Pcmu);
    assert_eq!(audio(&agreed).telephone_event, Some(101));
}

mod pcap_fixtures {
    //! SDP bodies from `shared/testdata/pcap/FAX-Call-t38-CA-TDM-SIP-FB-1.pcap` (see the
    //! fixtures README): a carrier offers PCMA, later re-INVITEs to a bare `m=image` with no
    //! T.38 attributes, and then back to audio without changing its `o=` version.

    use super::*;

    fn fixture(name: &str) -> SessionDescription {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let sd = SessionDescription::parse(&bytes).unwrap();
        assert_eq!(sd.to_bytes(), bytes, "{name} round-trips byte for byte");
        sd
    }

    #[test]
    fn every_fixture_parses_and_round_trips() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".sdp") {
                fixture(&name);
                n += 1;
            }
        }
        assert_eq!(n, 8);
    }

    #[test]
    fn carrier_call_flow() {
        let mut local = LocalSdp::new(1, 1);
        let offer = fixture("fb1-frame0027-carrier-initial-invite-offer.sdp");
        let a = local.answer(&offer, &caps(), &Policy::default()).unwrap();
        let au = audio(&a.agreed);
        assert_eq!(
            (au.codec, au.payload_type, au.telephone_event),
            (G711::Pcma, 8, Some(102))
        );
        assert_eq!(au.ptime, 30);
        assert_eq!(au.remote, addr("138.132.169.101:15580"));

        let t38_offer = fixture("fb1-frame1400-carrier-reinvite-t38-offer.sdp");
        let a = local
            .answer(&t38_offer, &caps(), &Policy::default())
            .unwrap();
        let t = t38(&a.agreed);
        assert_eq!(
            (t.version, t.udp_ec, t.remote_max_datagram),
            (0, UdpEc::None, None)
        );
        assert_eq!(local.version(), 2);

        // Same o= version as the T.38 offer, different content: answered from the content.
        let back = fixture("fb1-frame1414-carrier-reinvite-audio-offer.sdp");
        assert_eq!(
            back.origin.session_version,
            t38_offer.origin.session_version
        );
        let a = local.answer(&back, &caps(), &Policy::default()).unwrap();
        assert_eq!(audio(&a.agreed).codec, G711::Pcma);
        assert_eq!(local.version(), 3);
    }

    #[test]
    fn the_pbx_answers_read_back() {
        let offer = fixture("fb1-frame0027-carrier-initial-invite-offer.sdp");
        let answer = fixture("fb1-frame0048-pbx-200-answer.sdp");
        let agreed = accept_answer(&offer, &answer, &caps()).unwrap();
        let au = audio(&agreed);
        assert_eq!(
            (au.codec, au.telephone_event, au.ptime),
            (G711::Pcma, Some(102), 20)
        );
        assert_eq!(au.remote, addr("192.168.100.219:5002"));

        let offer = fixture("fb1-frame0164-pbx-reinvite-audio-offer.sdp");
        let answer = fixture("fb1-frame0180-carrier-200-audio-answer.sdp");
        let agreed = accept_answer(&offer, &answer, &caps()).unwrap();
        assert_eq!(
            audio(&agreed).codec,
            G711::Pcma,
            "static PT 8 without rtpmap"
        );
        let internal = fixture("fb1-frame0023-internal-leg-initial-invite-offer.sdp");
        assert_eq!(internal.media[0].port, 16756);
        let back = fixture("fb1-frame1425-pbx-200-audio-answer.sdp");
        assert_eq!(back.media[0].attribute_value("fmtp"), Some("102 0-15,32"));
    }
}
