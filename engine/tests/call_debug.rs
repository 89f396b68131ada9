//! The per-call debug bundle on real loopback faxes between two engine agents: the SIP
//! ladder of each end, SpanDSP's T.30 trace routed to the right call even when calls share
//! a thread, and the pcap of the media read back by tshark.

mod common;

use std::path::Path;

use common::loopback::{Ends, Loopback};
use engine::call::debug::SipTrace;
use engine::call::{CallReport, FaxOptions, T38Mode};

fn options(ident: &str, t38: T38Mode) -> FaxOptions {
    FaxOptions {
        ident: ident.to_owned(),
        t38,
        ..FaxOptions::default()
    }
}

/// One call of `pages` pages from a fresh sending agent to a fresh receiving agent, at 4×.
async fn call(dir: &Path, pages: usize, sender: FaxOptions, receiver: FaxOptions) -> Ends {
    let tiff = common::charts_tiff(&common::itu_charts(pages));
    let ends = Loopback::new(sender, receiver, 4).run(dir, &tiff).await;
    for (who, r) in [("sender", &ends.send), ("receiver", &ends.receive)] {
        assert!(r.is_success(), "{who}: {}", r.summary());
    }
    ends
}

fn start_line(m: &SipTrace) -> &str {
    m.text.lines().next().unwrap_or_default()
}

/// `>INVITE`, `<200 INVITE`, … : direction, then the method or the status and its CSeq
/// method, so that a ladder reads the same whatever the addresses.
fn steps(ladder: &[SipTrace], flip: bool) -> Vec<String> {
    ladder
        .iter()
        .map(|m| {
            let arrow = if m.sent != flip { '>' } else { '<' };
            let line = start_line(m);
            let what = match line.strip_prefix("SIP/2.0 ") {
                Some(status) => {
                    let cseq = m
                        .text
                        .lines()
                        .find_map(|l| l.strip_prefix("CSeq:"))
                        .and_then(|v| v.split_whitespace().nth(1))
                        .unwrap_or("?");
                    format!("{} {cseq}", &status[..3])
                }
                None => line.split(' ').next().unwrap_or_default().to_owned(),
            };
            format!("{arrow}{what}")
        })
        .collect()
}

fn call_ids(r: &CallReport) -> Vec<String> {
    r.debug
        .sip
        .iter()
        .filter_map(|m| {
            m.text
                .lines()
                .find_map(|l| l.strip_prefix("Call-ID:"))
                .map(|v| v.trim().to_owned())
        })
        .collect()
}

/// Both ends' ladders: the sender's starts with INVITE, 100, 180, 200, ACK, contains the
/// `extra` steps in order, and ends with a BYE and its 200; the receiver's is its mirror.
fn assert_ladders(ends: &Ends, extra: &[&str]) {
    let (tx, rx) = (&ends.send.debug, &ends.receive.debug);
    assert!(!tx.truncated && !rx.truncated);
    let tx_steps = steps(&tx.sip, false);
    // A 100 Trying is optional: the receiver rings at once.
    let opening: Vec<&str> = tx_steps[..5]
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "<100 INVITE")
        .collect();
    assert_eq!(
        opening[..4],
        [">INVITE", "<180 INVITE", "<200 INVITE", ">ACK"],
        "{tx_steps:?}"
    );
    let skip = if opening.len() == 5 { 4 } else { 5 };
    let mut rest = tx_steps[skip..].iter();
    for step in extra {
        assert!(rest.any(|s| s == step), "{step} in {tx_steps:?}");
    }
    let last_two = &tx_steps[tx_steps.len() - 2..];
    assert!(
        last_two == [">BYE", "<200 BYE"] || last_two == ["<BYE", ">200 BYE"],
        "{tx_steps:?}"
    );
    assert_eq!(
        steps(&rx.sip, true),
        tx_steps,
        "the receiver's ladder mirrors"
    );
    assert!(start_line(&tx.sip[0]).starts_with("INVITE sip:5551234@127.0.0.1:"));
    assert!(start_line(&tx.sip[1]).starts_with("SIP/2.0 1"));
    let ids = call_ids(&ends.send);
    assert_eq!(ids.len(), tx.sip.len());
    assert!(ids.iter().all(|id| *id == ends.send.call_id));
    assert!(call_ids(&ends.receive)
        .iter()
        .all(|id| *id == ends.send.call_id));
    assert_eq!(ends.receive.call_id, ends.send.call_id);
    for m in tx.sip.iter().chain(&rx.sip) {
        assert_eq!(m.transport, "udp");
        assert!(m.peer.starts_with("127.0.0.1:"), "{}", m.peer);
        assert!(m.unix_ms > 1_600_000_000_000);
    }
    assert!(tx.sip.windows(2).all(|w| w[0].unix_ms <= w[1].unix_ms));
    // A received message is kept as it arrived, not as our parser would write it again (the
    // receiving transport stamps `received`/`rport` into the top Via of every request).
    for (sent, got) in tx.sip.iter().zip(&rx.sip) {
        assert_eq!(
            sent.text,
            got.text,
            "{} as sent and as received",
            start_line(sent)
        );
    }
}

/// Whether a trace line holds `needle`, spacing aside (SpanDSP pads `Tx:  DCS`).
fn trace_has(r: &CallReport, needle: &str) -> bool {
    r.debug.t30.iter().any(|l| {
        let words: Vec<&str> = l.text.split_whitespace().collect();
        words.join(" ").contains(needle)
    })
}

fn assert_t30(ends: &Ends) {
    for (who, r, sent, heard) in [
        ("sender", &ends.send, "Tx: DCS", "Rx: DIS"),
        ("receiver", &ends.receive, "Tx: DIS", "Rx: DCS"),
    ] {
        let t30 = &r.debug.t30;
        assert!(trace_has(r, sent), "{who}: no {sent:?} in {t30:#?}");
        assert!(trace_has(r, heard), "{who}: no {heard:?}");
        assert!(t30.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(t30.iter().any(|l| l.level == "flow"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g711_call_keeps_both_ladders_and_t30_traces() {
    let dir = tempfile::tempdir().unwrap();
    let ends = call(
        dir.path(),
        1,
        options("SENDER", T38Mode::Off),
        options("RECEIVER", T38Mode::Off),
    )
    .await;
    assert_ladders(&ends, &[]);
    assert_t30(&ends);
    assert!(ends.send.debug.pcap.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_call_ladder_has_the_reinvite() {
    let dir = tempfile::tempdir().unwrap();
    let ends = call(
        dir.path(),
        1,
        options("SENDER", T38Mode::Request),
        options("RECEIVER", T38Mode::Accept),
    )
    .await;
    assert_eq!(ends.send.media.last().unwrap().media, "t38/v3");
    assert_ladders(&ends, &[">INVITE", "<200 INVITE", ">ACK"]);
    assert_t30(&ends);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_capture_leaves_the_bundle_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = options("SENDER", T38Mode::Request);
    sender.debug_capture = false;
    sender.t38_in_invite = true;
    let ends = call(dir.path(), 1, sender, options("RECEIVER", T38Mode::Accept)).await;
    assert!(ends.send.debug.is_empty(), "{:?}", ends.send.debug);
    assert!(!ends.receive.debug.sip.is_empty());
}

/// Two calls at once, all four ends on one thread: each trace holds its own call's lines
/// only (SpanDSP tags each line with the Call-ID, and the idents are distinct).
#[tokio::test(flavor = "current_thread")]
async fn concurrent_calls_on_one_thread_get_only_their_own_trace() {
    let dir = tempfile::tempdir().unwrap();
    let t38 = |ident: &str| {
        let mut o = options(ident, T38Mode::Request);
        o.t38_in_invite = true;
        o
    };
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = tokio::join!(
        call(
            &dir_a,
            1,
            t38("SENDER A"),
            options("RECEIVER A", T38Mode::Accept)
        ),
        call(
            &dir_b,
            1,
            t38("SENDER B"),
            options("RECEIVER B", T38Mode::Accept)
        ),
    );
    assert_ne!(a.send.call_id, b.send.call_id);
    for (mine, other, me, them) in [(&a, &b, "A", "B"), (&b, &a, "B", "A")] {
        assert_t30(mine);
        // Each sender heard its own receiver's CSI, and nothing of the other call.
        assert!(trace_has(&mine.send, &format!("\"RECEIVER {me}\"")));
        assert!(trace_has(&mine.receive, &format!("\"SENDER {me}\"")));
        for r in [&mine.send, &mine.receive] {
            assert!(!trace_has(r, &format!("SENDER {them}")));
            assert!(!trace_has(r, &format!("RECEIVER {them}")));
        }
        for r in [&mine.send, &mine.receive] {
            let tag: String = r.call_id.chars().take(24).collect();
            let other_tag: String = other.send.call_id.chars().take(24).collect();
            assert!(r.debug.t30.iter().all(|l| !l.text.contains(&other_tag)));
            assert!(r.debug.t30.iter().any(|l| l.text.contains(&tag)));
            assert!(r
                .debug
                .sip
                .iter()
                .all(|m| !m.text.contains(&other.send.call_id)));
        }
    }
}

/// Runs tshark on `pcap`, decoding both ports of its first packet as `proto`, and returns
/// how many frames it read and how many of them it decoded as `proto`.
fn tshark_count(dir: &Path, pcap: &[u8], proto: &str) -> (usize, usize) {
    assert!(pcap.len() > 24 + 16 + 28, "no packet in the pcap");
    let ports = [60, 62].map(|at| u16::from_be_bytes([pcap[at], pcap[at + 1]]));
    let path = dir.join(format!("{proto}.pcap"));
    std::fs::write(&path, pcap).unwrap();
    let run = |filter: Option<&str>| {
        let mut cmd = std::process::Command::new("tshark");
        cmd.arg("-r").arg(&path);
        for p in ports {
            cmd.args(["-d", &format!("udp.port=={p},{proto}")]);
        }
        if let Some(f) = filter {
            cmd.args(["-Y", f]);
        }
        let out = cmd.args(["-T", "fields", "-e", "frame.number"]).output();
        let out = out.expect("tshark runs (scripts/install-deps.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    (run(None), run(Some(proto)))
}

fn assert_pcap_matches_socket(dir: &Path, r: &CallReport, proto: &str) {
    let pcap = r.debug.pcap.as_ref().expect("a pcap");
    assert!(!r.debug.truncated);
    let (frames, decoded) = tshark_count(dir, pcap, proto);
    let c = &r.media_counters;
    assert!(c.datagrams_sent > 50 && c.datagrams_received > 50, "{c:?}");
    assert_eq!(frames as u64, c.datagrams_sent + c.datagrams_received);
    assert_eq!(decoded, frames, "every datagram decodes as {proto}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcap_of_a_g711_call_holds_every_rtp_datagram() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = options("SENDER", T38Mode::Off);
    sender.debug_pcap = true;
    let ends = call(dir.path(), 1, sender, options("RECEIVER", T38Mode::Off)).await;
    assert_pcap_matches_socket(dir.path(), &ends.send, "rtp");
    assert!(ends.receive.debug.pcap.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcap_of_a_t38_call_holds_every_udptl_datagram() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = options("SENDER", T38Mode::Request);
    sender.t38_in_invite = true;
    let mut receiver = options("RECEIVER", T38Mode::Accept);
    receiver.debug_pcap = true;
    let ends = call(dir.path(), 1, sender, receiver).await;
    assert_eq!(ends.receive.media.len(), 1, "T.38 from the start");
    assert_pcap_matches_socket(dir.path(), &ends.receive, "t38");
}
