//! `faxserver send`: convert a document, dial a SIP URI, send the fax, and exit 0 only when
//! every page was confirmed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use engine::call::{
    run_outgoing, AgentConfig, FaxJob, FaxOptions, OutgoingCall, SipAgent, T38Mode,
};
use engine::documents::{to_fax_tiff, ConvertOptions};
use spandsp::Direction;

/// What `faxserver send` was asked to do.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// Where to call: sip:NUMBER@HOST:PORT (HOST an IP address).
    #[arg(long)]
    pub to: String,
    /// The document: PDF, TIFF, PNG or JPEG.
    #[arg(long)]
    pub file: PathBuf,
    /// Our number (From user).
    #[arg(long, default_value = "")]
    pub from: String,
    /// Station identifier (TSI), at most 20 characters.
    #[arg(long, default_value = "")]
    pub ident: String,
    /// Header line text, at most 50 characters.
    #[arg(long)]
    pub header: Option<String>,
    /// T.38: off, accept or request.
    #[arg(long, default_value = "request", value_parser = super::t38_mode)]
    pub t38: T38Mode,
    /// Error correction mode: on or off.
    #[arg(long, default_value = "on", value_parser = super::on_off)]
    pub ecm: bool,
    /// Local SIP address.
    #[arg(long, default_value = "0.0.0.0:0")]
    pub listen: SocketAddr,
    /// Media port range.
    #[arg(long, default_value = "16384-32767")]
    pub rtp_ports: String,
    /// Run the media clock this many times faster than real time (only against a peer
    /// doing the same, such as another `faxserver receive --speed`).
    #[arg(long, default_value_t = 1, hide = true)]
    pub speed: u32,
    /// Write the call report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Runs the tool.
pub fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let input =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let doc = to_fax_tiff(&input, &ConvertOptions::default())
        .with_context(|| format!("converting {}", args.file.display()))?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let tiff = dir.path().join("send.tif");
    std::fs::write(&tiff, &doc.tiff).context("writing the fax TIFF")?;
    println!("{}: {} page(s) to send", args.file.display(), doc.pages);
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(call(args, tiff))
}

async fn call(args: SendArgs, tiff: PathBuf) -> anyhow::Result<ExitCode> {
    let listen = if args.listen.ip().is_unspecified() {
        // A wildcard bind cannot go into Via, Contact or SDP: use the address that routes
        // to the peer.
        SocketAddr::new(route_to(&args.to)?, args.listen.port())
    } else {
        args.listen
    };
    let mut media = super::media_settings(listen.ip(), &args.rtp_ports)?;
    media.speed = args.speed.max(1);
    let (agent, _incoming) = SipAgent::start(AgentConfig::new(listen))
        .await
        .context("starting SIP")?;
    let call = OutgoingCall::direct(&args.to, &args.from, agent.local_addr())?;
    let job = FaxJob {
        direction: Direction::Send {
            tiff,
            first_page: 1,
        },
        options: FaxOptions {
            t38: args.t38,
            ecm: args.ecm,
            ident: args.ident.clone(),
            header: args.header.clone(),
            ..FaxOptions::default()
        },
        cancel: None,
    };
    println!("calling {} from {}", args.to, agent.local_addr());
    let progress = super::print_progress(String::new());
    let report = run_outgoing(&agent, call, job, &media, Some(progress)).await;
    println!("{}", report.summary());
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The local address the kernel would use to reach the URI's host.
fn route_to(uri: &str) -> anyhow::Result<std::net::IpAddr> {
    let host = uri
        .split_once('@')
        .map_or(uri, |(_, h)| h)
        .trim_start_matches("sip:");
    let host = host.split([';', '?']).next().unwrap_or(host);
    let addr: SocketAddr = host
        .parse()
        .or_else(|_| format!("{host}:5060").parse())
        .with_context(|| format!("{host} is not IP:PORT"))?;
    let probe = std::net::UdpSocket::bind(SocketAddr::new(
        if addr.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        },
        0,
    ))?;
    probe.connect(addr)?;
    Ok(probe.local_addr()?.ip())
}
