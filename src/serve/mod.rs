//! `faxserver serve`: the whole server — SIP, the durable queue, incoming faxes and the
//! REST API — on embedded defaults, a JSON config file and `FAXSERVER_*` variables.

pub(crate) mod config;
mod esl;
mod outputs;
mod reload;
mod retention;
mod secrets;
pub(crate) mod server;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// What `faxserver serve` was asked to do.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// JSON config file (gofaxserver's `config.json` keys); `FAXSERVER_CONFIG` names one
    /// too. Environment variables win over the file.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs the server until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let env = |k: &str| std::env::var(k).ok();
    let path = args.config.or_else(|| {
        env("FAXSERVER_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let text = match &path {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    let name = path.as_ref().map(|p| p.display().to_string());
    let file = name.as_deref().zip(text.as_deref());
    let cfg = config::load(file, &env)?;
    // Both kinds at warn: the default log level hides info, and an operator moving from
    // gofaxserver wants to see which of its keys do nothing here.
    for note in &cfg.notes {
        tracing::warn!("{note}");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(server::serve(cfg))
}
