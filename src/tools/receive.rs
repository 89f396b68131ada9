//! `faxserver receive`: answer every call on a SIP address and write each fax received as
//! TIFF and PDF with its JSON report beside it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use engine::call::{
    run_incoming, AgentConfig, CallReport, FaxJob, FaxOptions, PeerAcl, SipAgent, T38Mode,
};
use engine::documents::fax_tiff_to_pdf;
use spandsp::Direction;

/// What `faxserver receive` was asked to do.
#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// SIP address to answer on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Directory for the received faxes.
    #[arg(long)]
    pub out: PathBuf,
    /// T.38: off, accept or request.
    #[arg(long, default_value = "accept", value_parser = super::t38_mode)]
    pub t38: T38Mode,
    /// Error correction mode: on or off.
    #[arg(long, default_value = "on", value_parser = super::on_off)]
    pub ecm: bool,
    /// Station identifier (CSI), at most 20 characters.
    #[arg(long, default_value = "")]
    pub ident: String,
    /// Sources allowed to call (addresses or CIDR blocks); every source when omitted.
    #[arg(long = "allow")]
    pub allow: Vec<String>,
    /// Media port range.
    #[arg(long, default_value = "16384-32767")]
    pub rtp_ports: String,
    /// Stop after this many calls (runs until interrupted when omitted).
    #[arg(long)]
    pub calls: Option<u32>,
    /// Media clock speed (see `send --speed`).
    #[arg(long, default_value_t = 1, hide = true)]
    pub speed: u32,
}

/// Runs the tool.
pub fn run(args: ReceiveArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ReceiveArgs) -> anyhow::Result<ExitCode> {
    let mut media = super::media_settings(super::media_ip(args.listen), &args.rtp_ports)?;
    media.speed = args.speed.max(1);
    let mut cfg = AgentConfig::new(args.listen);
    cfg.acl = if args.allow.is_empty() {
        PeerAcl::any()
    } else {
        PeerAcl::parse(args.allow.iter().map(String::as_str))?
    };
    let (agent, mut incoming) = SipAgent::start(cfg).await.context("starting SIP")?;
    // The line a script waits for before it dials.
    println!("listening on {}", agent.local_addr());
    let mut calls = Vec::new();
    let mut accepted = 0u32;
    while args.calls.is_none_or(|n| accepted < n) {
        let call = tokio::select! {
            call = incoming.recv() => match call {
                Some(c) => c,
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        accepted += 1;
        let name = format!("{}-{}", chrono_stamp(), sanitize(call.handle.call_id()));
        let tiff = args.out.join(format!("{name}.tif"));
        println!("call {accepted} from {}: {name}", call.peer.addr);
        let job = FaxJob {
            direction: Direction::Receive { tiff: tiff.clone() },
            options: FaxOptions {
                t38: args.t38,
                ecm: args.ecm,
                ident: args.ident.clone(),
                ..FaxOptions::default()
            },
            cancel: None,
        };
        let media = media.clone();
        let progress = super::print_progress(format!("[{name}] "));
        let out = args.out.clone();
        calls.push(tokio::spawn(async move {
            let report = run_incoming(call, job, &media, Some(progress)).await;
            save(&out, &name, &tiff, &report);
            report.is_success()
        }));
    }
    let mut failed = 0;
    for c in calls {
        if !c.await.unwrap_or(false) {
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn save(out: &Path, name: &str, tiff: &Path, report: &CallReport) {
    println!("[{name}] {}", report.summary());
    let json = out.join(format!("{name}.json"));
    if let Err(e) = serde_json::to_vec_pretty(report)
        .map_err(std::io::Error::other)
        .and_then(|b| std::fs::write(&json, b))
    {
        eprintln!("[{name}] cannot write {}: {e}", json.display());
    }
    if report.fax.as_ref().is_some_and(|f| f.pages > 0) {
        let pdf = std::fs::read(tiff)
            .map_err(|e| e.to_string())
            .and_then(|b| fax_tiff_to_pdf(&b).map_err(|e| e.to_string()))
            .and_then(|pdf| {
                std::fs::write(out.join(format!("{name}.pdf")), pdf).map_err(|e| e.to_string())
            });
        if let Err(e) = pdf {
            eprintln!("[{name}] no PDF: {e}");
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(32)
        .collect()
}

fn chrono_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("fax{secs}")
}
