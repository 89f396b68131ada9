//! `faxserver send` against `faxserver receive`: two processes, real SIP and media over
//! loopback at real time, one G.711 call and one T.38 call. The received TIFF must hold the
//! pixels of the converted document, the PDF and JSON report must exist, and `send` must
//! exit 0 only on success.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use engine::documents::{read_tiff_pages, to_fax_tiff, ConvertOptions};

fn faxserver() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faxserver"))
}

fn chart() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.join("../shared/testdata/fax-images/spandsp_itu1.pbm")
}

/// Starts `receive` for one call and returns it with the address it listens on.
fn start_receiver(out: &Path, t38: &str, ports: &str) -> (Child, String) {
    let mut child = faxserver()
        .args(["receive", "--listen", "127.0.0.1:0", "--calls", "1"])
        .args(["--t38", t38, "--ident", "RECEIVER", "--rtp-ports", ports])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start faxserver receive");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    // Keep draining so that the receiver never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn send(to: &str, t38: &str, ports: &str, report: &Path) -> std::process::ExitStatus {
    faxserver()
        .args(["send", "--to", to, "--from", "5550001", "--ident", "SENDER"])
        .args(["--t38", t38, "--rtp-ports", ports])
        .arg("--file")
        .arg(chart())
        .arg("--report")
        .arg(report)
        .stdout(Stdio::null())
        .status()
        .expect("run faxserver send")
}

fn one_call(
    t38_send: &str,
    t38_receive: &str,
    rx_ports: &str,
    tx_ports: &str,
) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("in");
    let (mut receiver, addr) = start_receiver(&out, t38_receive, rx_ports);
    let report_path = dir.path().join("send.json");
    let status = send(
        &format!("sip:5551234@{addr}"),
        t38_send,
        tx_ports,
        &report_path,
    );
    let rx_status = receiver.wait().expect("receiver exits");
    assert!(status.success(), "send failed: {status:?}");
    assert!(rx_status.success(), "receive failed: {rx_status:?}");

    let names: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let with_ext = |ext: &str| {
        names
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .unwrap_or_else(|| panic!("no .{ext} in {names:?}"))
            .clone()
    };
    let received = read_tiff_pages(&std::fs::read(with_ext("tif")).unwrap()).unwrap();
    let sent = to_fax_tiff(&std::fs::read(chart()).unwrap(), &ConvertOptions::default()).unwrap();
    let sent = read_tiff_pages(&sent.tiff).unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].bitmap.width, sent[0].bitmap.width);
    assert!(
        received[0].bitmap.data == sent[0].bitmap.data,
        "pixels differ"
    );
    let pdf = std::fs::read(with_ext("pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let rx_report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(with_ext("json")).unwrap()).unwrap();
    assert_eq!(rx_report["fax"]["pages"], 1);
    assert_eq!(rx_report["fax"]["remote_ident"], "SENDER");
    let tx_report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(tx_report["fax"]["code"], 0);
    assert_eq!(tx_report["fax"]["remote_ident"], "RECEIVER");
    tx_report
}

#[test]
fn g711_at_real_time_between_two_processes() {
    let report = one_call("off", "off", "41000-41999", "42000-42999");
    assert_eq!(report["media"][0]["media"], "audio/PCMU");
    assert_eq!(report["media"].as_array().unwrap().len(), 1);
}

#[test]
fn t38_at_real_time_between_two_processes() {
    let report = one_call("request", "accept", "43000-43999", "44000-44999");
    let media: Vec<&str> = report["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["media"].as_str().unwrap())
        .collect();
    assert_eq!(media, ["audio/PCMU", "t38/v3"]);
    assert!(report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["media"] == "t38/v3"));
}

#[test]
fn send_exits_non_zero_when_nobody_answers() {
    // A port with no SIP listener: the INVITE times out (Timer B, 32 s) or the ICMP error
    // ends it; either way `send` must fail, not report success.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    drop(sock);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let status = send(&format!("sip:1@{addr}"), "off", "45000-45999", &report);
    assert!(!status.success());
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["answered"], false);
    assert!(r["fax"].is_null());
}
