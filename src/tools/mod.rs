//! The operator tools `faxserver send` and `faxserver receive`: one fax call each way against
//! any SIP fax peer, built on the engine's call layer; and `faxserver import`.

pub mod import;
pub mod import_gofax;
pub mod receive;
pub mod send;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use engine::call::{MediaSettings, Progress, T38Mode};
use media::ports::PortPool;
use tokio::sync::mpsc;

/// `on`/`off` for clap.
pub fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("{s:?} is not on or off")),
    }
}

/// `off`, `accept` or `request` for clap.
pub fn t38_mode(s: &str) -> Result<T38Mode, String> {
    s.parse()
}

/// Media on the address the SIP side uses, with ports from `ports`.
pub fn media_settings(ip: IpAddr, ports: &str) -> anyhow::Result<MediaSettings> {
    let (lo, hi) = ports
        .split_once('-')
        .context("--rtp-ports takes LOW-HIGH, e.g. 16384-32767")?;
    let range = lo.trim().parse::<u16>()?..=hi.trim().parse::<u16>()?;
    let pool = PortPool::new(range).map_err(|e| anyhow::anyhow!("RTP port range: {e}"))?;
    Ok(MediaSettings::new(Arc::new(pool), ip))
}

/// Binds media where SIP listens; an unspecified address binds media to all too.
pub fn media_ip(listen: SocketAddr) -> IpAddr {
    listen.ip()
}

/// Prints progress lines as a call runs; returns the sender to give the call.
pub fn print_progress(prefix: String) -> mpsc::UnboundedSender<Progress> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let line = match p {
                Progress::Placed { call_id } => format!("calling (Call-ID {call_id})"),
                Progress::Ringing => "ringing".to_owned(),
                Progress::Answered => "answered".to_owned(),
                Progress::Media(m) => format!("media: {m}"),
                Progress::Negotiated {
                    bit_rate,
                    ecm,
                    remote_ident,
                } => format!(
                    "negotiated {bit_rate} bit/s{} with {remote_ident:?}",
                    if ecm { " ECM" } else { "" }
                ),
                Progress::Page(p) => format!(
                    "page {} done: {} bit/s, {}, {} rows, {} bad, over {}",
                    p.page, p.bit_rate, p.resolution, p.rows, p.bad_rows, p.media
                ),
                Progress::T38(e) => format!("T.38: {:?}", e.step),
            };
            println!("{prefix}{line}");
        }
    });
    tx
}
