//! Complete fax calls through real UDP sockets on 127.0.0.1, checked on the wire by an
//! independent decoder: tshark (Wireshark's T.38/UDPTL, T.30 and RTP dissectors).
//!
//! SpanDSP terminals at both ends; `media::socket` shells (`UdptlStream` with redundancy 3,
//! `RtpStream` with G.711 µ-law at 20 ms) carry the media. tshark captures the loopback
//! traffic of the call live, from before the first packet (it is waited for until it reports
//! "Capturing on") to after the last (it is waited for until it has written every datagram we
//! sent). The capture is then decoded, T.38 with the ASN.1 variant that matches the
//! negotiated version (spandsp.md §5): no malformed packet nor any other expert remark, the
//! T.30 frames of a 2-page non-ECM call each from the right side, RTP sequence and timestamp
//! continuity. Pages and pixels are checked as in `back_to_back.rs`.
//!
//! The media clock runs faster than real time (both ends are ours, design.md §3): each tick
//! sends, then waits until the other side's socket has taken everything sent to it. One test
//! paces both media types at real time, concurrently, with a short page.
//!
//! Without tshark the tests skip with a message; `scripts/install-deps.sh` installs it.

#[path = "wire_tshark/calls.rs"]
mod calls;
#[path = "wire_tshark/capture.rs"]
mod capture;
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use media::ports::PortPool;

use calls::{
    assert_complete, audio_call, short_page_document, t38_call, t38_call_captured,
    two_page_document, CallOutcome, Pace, TICK,
};
use capture::{tshark_missing, tshark_read};

/// Longest a single wait may take before the test fails: a guard, never a delay.
const GUARD: Duration = Duration::from_secs(20);
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SENDER_IDENT: &str = "+1 555 0100";
const RECEIVER_IDENT: &str = "+1 555 0199";

/// T.30 facsimile control field values as tshark names them (spandsp.md §5).
mod fcf {
    pub const DIS: u32 = 1;
    pub const CSI: u32 = 2;
    pub const CFR: u32 = 33;
    pub const MCF: u32 = 49;
    pub const DCS: u32 = 65;
    pub const TSI: u32 = 66;
    pub const DCN: u32 = 95;
    pub const MPS: u32 = 114;
    pub const EOP: u32 = 116;
}

/// The T.30 control fields tshark decodes in `file`, with the UDP source port of each.
fn t30_frames(file: &Path, port: u16, decode_as: &str, pref: &str) -> Vec<(u16, u32)> {
    let filter = format!("udp.port == {port} && t30");
    tshark_read(
        file,
        &[
            "-d",
            decode_as,
            "-o",
            pref,
            "-Y",
            &filter,
            "-T",
            "fields",
            "-e",
            "udp.srcport",
            "-e",
            "t30.FacsimileControl",
        ],
    )
    .iter()
    .flat_map(|row| {
        let port: u16 = row.first().and_then(|p| p.parse().ok()).unwrap_or(0);
        let fcfs = row.get(1).cloned().unwrap_or_default();
        fcfs.split(',')
            .filter_map(|v| v.parse().ok())
            .map(move |v| (port, v))
            .collect::<Vec<_>>()
    })
    .collect()
}

fn check_t38_wire(file: &Path, version: u8, outcome: &CallOutcome) {
    let (sender, receiver) = outcome.ports;
    let decode_as = format!("udp.port=={receiver},t38");
    // spandsp.md §5: the default ASN.1 variant fits version 0 only; for later versions tshark
    // silently mislabels field types unless told.
    let pref = format!(
        "t38.use_pre_corrigendum_asn1_specification:{}",
        if version == 0 { "TRUE" } else { "FALSE" }
    );
    let read = |filter: &str, fields: &[&str]| {
        // Only the call's packets: the capture also holds tshark's start-up probes.
        let filter = format!("udp.port == {receiver} && ({filter})");
        let mut args = vec!["-d", &decode_as, "-o", &pref, "-Y", &filter, "-T", "fields"];
        for f in fields {
            args.extend(["-e", f]);
        }
        tshark_read(file, &args)
    };
    assert_eq!(
        read("not t38", &["frame.number"]).len(),
        0,
        "every datagram is UDPTL"
    );
    let packets = read("t38", &["udp.srcport", "t38.seq_number"]);
    assert_eq!(packets.len() as u64, outcome.datagrams);
    // Nothing tshark finds fault with, nor even remarks on. SpanDSP's repeats of indicators
    // and end-of-data IFPs used to go out as identical datagrams, and tshark flagged the copies
    // of end-of-data ("end of fragment without fragment data", "unreassembled fragment"):
    // every datagram is now new (see media::udptl's sender).
    let remarks = read(
        "_ws.malformed || _ws.expert",
        &["frame.number", "_ws.expert.message"],
    );
    assert_eq!(
        remarks,
        Vec::<Vec<String>>::new(),
        "tshark's expert remarks"
    );
    // Each direction numbers its datagrams 0, 1, 2, … with none missing and none repeated.
    for port in [sender, receiver] {
        let mut seqs: Vec<u32> = packets
            .iter()
            .filter(|r| r.first().and_then(|p| p.parse::<u16>().ok()) == Some(port))
            .filter_map(|r| r.get(1)?.split(',').next()?.parse().ok())
            .collect();
        assert!(!seqs.is_empty(), "port {port} sent UDPTL");
        seqs.sort_unstable();
        let last = *seqs.last().unwrap_or(&0);
        assert_eq!(
            seqs,
            (0..=last).collect::<Vec<_>>(),
            "port {port}: each once"
        );
    }

    let frames = t30_frames(file, receiver, &decode_as, &pref);
    let from = |port: u16| -> Vec<u32> {
        let mut v: Vec<u32> = frames.iter().filter(|f| f.0 == port).map(|f| f.1).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (tx, rx) = (from(sender), from(receiver));
    eprintln!("T.30 frames on the wire: sender {tx:?}, receiver {rx:?}");
    for fcf in [fcf::TSI, fcf::DCS, fcf::MPS, fcf::EOP, fcf::DCN] {
        assert!(tx.contains(&fcf), "sender sent FCF {fcf}: {tx:?}");
        assert!(!rx.contains(&fcf), "receiver never sends FCF {fcf}: {rx:?}");
    }
    for fcf in [fcf::CSI, fcf::DIS, fcf::CFR, fcf::MCF] {
        assert!(rx.contains(&fcf), "receiver sent FCF {fcf}: {rx:?}");
        assert!(!tx.contains(&fcf), "sender never sends FCF {fcf}: {tx:?}");
    }

    // The check is pinned to the version: read with the other ASN.1 variant, the same capture
    // is either malformed (version 0) or silently loses CSI and TSI (version 3).
    let other = format!(
        "t38.use_pre_corrigendum_asn1_specification:{}",
        if version == 0 { "FALSE" } else { "TRUE" }
    );
    let malformed = tshark_read(
        file,
        &["-d", &decode_as, "-o", &other, "-Y", "_ws.malformed"],
    );
    let mut misread: Vec<u32> = t30_frames(file, receiver, &decode_as, &other)
        .into_iter()
        .map(|f| f.1)
        .collect();
    misread.sort_unstable();
    misread.dedup();
    eprintln!(
        "with the other ASN.1 variant: {} malformed, T.30 frames {misread:?}",
        malformed.len()
    );
    assert!(
        !(malformed.is_empty() && misread.contains(&fcf::CSI) && misread.contains(&fcf::TSI)),
        "the ASN.1 variant made no difference: the check would not catch a version mismatch"
    );
}

fn t38_wire_test(version: u8, base_port: u16) {
    if tshark_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let send = dir.path().join("send.tif");
    std::fs::write(&send, two_page_document()).expect("write document");
    let rx = dir.path().join("received.tif");
    let pool = PortPool::new(base_port..=base_port + 99).expect("pool");
    let runtime = runtime();
    let (outcome, file) = runtime.block_on(t38_call_captured(
        version,
        &send,
        &rx,
        Pace::Fast,
        &pool,
        Some(dir.path()),
    ));
    eprintln!(
        "T.38 v{version}: {} datagrams, {:.1} s of media in {:.2} s",
        outcome.datagrams,
        outcome.ticks as f64 / 50.0,
        outcome.wall.as_secs_f64()
    );
    assert_complete(&outcome.sender, &outcome.receiver, 2, &send, &rx);
    let file = file.expect("captured");
    if let Ok(keep) = std::env::var("TMP_KEEP") {
        std::fs::copy(&file, format!("{keep}/v{version}.pcapng")).unwrap();
    }
    check_t38_wire(&file, version, &outcome);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn t38_version_0_fax_over_udp_decodes_cleanly_in_tshark() {
    t38_wire_test(0, 33000);
}

#[test]
fn t38_version_3_fax_over_udp_decodes_cleanly_in_tshark() {
    t38_wire_test(3, 33200);
}

fn check_rtp_wire(file: &Path, outcome: &CallOutcome) {
    let (sender, receiver) = outcome.ports;
    let decode_as = format!("udp.port=={receiver},rtp");
    let read = |filter: &str, fields: &[&str]| {
        let filter = format!("udp.port == {receiver} && ({filter})");
        let mut args = vec!["-d", &decode_as, "-Y", &filter, "-T", "fields"];
        for f in fields {
            args.extend(["-e", f]);
        }
        tshark_read(file, &args)
    };
    assert_eq!(
        read("_ws.malformed", &["frame.number"]),
        Vec::<Vec<String>>::new()
    );
    assert_eq!(
        read("not rtp", &["frame.number"]).len(),
        0,
        "every datagram is RTP"
    );
    let rows = read(
        "rtp",
        &[
            "udp.srcport",
            "rtp.p_type",
            "rtp.seq",
            "rtp.timestamp",
            "udp.length",
        ],
    );
    assert_eq!(rows.len() as u64, outcome.datagrams);
    for port in [sender, receiver] {
        let packets: Vec<[u64; 4]> = rows
            .iter()
            .filter(|r| r.first().and_then(|p| p.parse::<u16>().ok()) == Some(port))
            .map(|r| {
                let field = |i: usize| r.get(i).and_then(|v| v.parse().ok()).expect("field");
                [field(1), field(2), field(3), field(4)]
            })
            .collect();
        assert_eq!(
            packets.len() as u64,
            outcome.ticks + 1,
            "port {port}: primer + one per tick"
        );
        for p in &packets {
            assert_eq!(p[0], 0, "payload type 0 (PCMU)");
            assert_eq!(p[3], 8 + 12 + 160, "160 octets = 20 ms of G.711 per packet");
        }
        for w in packets.windows(2) {
            assert_eq!(
                w[1][1],
                (w[0][1] + 1) % (1 << 16),
                "port {port}: sequence +1"
            );
            assert_eq!(
                w[1][2],
                (w[0][2] + 160) % (1 << 32),
                "port {port}: timestamp +160"
            );
        }
    }
}

#[test]
fn g711_fax_over_udp_decodes_cleanly_in_tshark() {
    if tshark_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let send = dir.path().join("send.tif");
    std::fs::write(&send, two_page_document()).expect("write document");
    let rx = dir.path().join("received.tif");
    let pool = PortPool::new(33400..=33499).expect("pool");
    let (outcome, file) =
        runtime().block_on(audio_call(&send, &rx, Pace::Fast, &pool, Some(dir.path())));
    eprintln!(
        "G.711: {} datagrams, {:.1} s of media in {:.2} s",
        outcome.datagrams,
        outcome.ticks as f64 / 50.0,
        outcome.wall.as_secs_f64()
    );
    assert_complete(&outcome.sender, &outcome.receiver, 2, &send, &rx);
    check_rtp_wire(&file.expect("captured"), &outcome);
}

// ---------------------------------------------------------------------------------------
// Real time

/// Both media types at once, paced at one tick per 20 ms of wall-clock time, with a short
/// page so that the test takes seconds, not minutes.
#[test]
fn t38_and_g711_calls_paced_in_real_time_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let send = dir.path().join("short.tif");
    std::fs::write(&send, short_page_document()).expect("write document");
    let (rx_t38, rx_audio) = (
        dir.path().join("rx-t38.tif"),
        dir.path().join("rx-g711.tif"),
    );
    let pool = PortPool::new(33600..=33699).expect("pool");
    let (t38, (audio, _)) = runtime().block_on(async {
        tokio::join!(
            t38_call(0, &send, &rx_t38, Pace::RealTime, &pool),
            audio_call(&send, &rx_audio, Pace::RealTime, &pool, None)
        )
    });
    for (name, o, rx) in [("T.38", &t38, &rx_t38), ("G.711", &audio, &rx_audio)] {
        let media = TICK * o.ticks as u32;
        eprintln!(
            "{name} in real time: {:.2} s of media in {:.2} s",
            media.as_secs_f64(),
            o.wall.as_secs_f64()
        );
        assert_complete(&o.sender, &o.receiver, 1, &send, rx);
        // Paced: never faster than the media clock, and keeping up with it.
        assert!(o.wall + TICK >= media, "{name}: ran ahead of real time");
        assert!(
            o.wall < media + media / 10 + Duration::from_millis(500),
            "{name}: fell behind real time ({:?} for {media:?})",
            o.wall
        );
    }
}
