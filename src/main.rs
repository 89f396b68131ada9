//! faxserver: the command-line entry point. Thin: parses arguments, sets up logging, and hands
//! off to the engine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod logging;
mod serve;
mod tools;

/// Multi-tenant Fax-over-IP server: SIP, T.38 and G.711 with SpanDSP in one process.
#[derive(Debug, Parser)]
#[command(name = "faxserver", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send a test chart through every fax mode back to back, in process, and check each page.
    Selftest {
        /// Send this document (PDF, TIFF, PNG, JPEG) instead of the built-in chart.
        #[arg(long)]
        document: Option<PathBuf>,
        /// Keep the fax TIFF sent and each mode's received document (as PDF) in this directory.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Send one fax to a SIP URI and exit 0 only when every page was confirmed.
    Send(tools::send::SendArgs),
    /// Answer calls on a SIP address and write each fax as TIFF, PDF and a JSON report.
    Receive(tools::receive::ReceiveArgs),
    /// Run the server: SIP, the durable queue, incoming faxes and the REST API.
    Serve(serve::ServeArgs),
    /// Import FreeSWITCH gateways or a gofaxserver installation into the server's database.
    #[command(subcommand)]
    Import(tools::import::ImportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // SpanDSP warns about routine events of successful calls (e.g. "ECM carrier not found"
    // as the line goes quiet); call results carry what matters, and FAXSERVER_LOG=spandsp=warn
    // brings them back. The server reports its work at info; the tools stay quiet.
    logging::init(match cli.command {
        Command::Serve(_) => "info,spandsp=error",
        _ => "warn,spandsp=error",
    });
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("faxserver: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Selftest { document, keep } => selftest(document, keep),
        Command::Send(args) => tools::send::run(args),
        Command::Receive(args) => tools::receive::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Import(args) => tools::import::run(args),
    }
}

fn selftest(document: Option<PathBuf>, keep: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use engine::selftest::{all_modes, prepare_document, run_mode};
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let bytes = match &document {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let send = prepare_document(dir.path(), bytes.as_deref())?;
    if let Some(keep) = &keep {
        std::fs::create_dir_all(keep).with_context(|| format!("creating {}", keep.display()))?;
        std::fs::copy(&send, keep.join("sent.tif")).context("keeping the sent TIFF")?;
    }
    println!(
        "faxserver selftest: {} through every mode, back to back in process",
        document
            .as_ref()
            .map_or("the built-in test chart".to_owned(), |p| p
                .display()
                .to_string())
    );
    let mut failures = 0;
    for mode in all_modes() {
        let line = run_mode(dir.path(), &send, &mode, keep.as_deref());
        failures += usize::from(line.failure.is_some());
        println!("{line}");
    }
    if failures == 0 {
        println!("all modes passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failures} mode(s) failed");
        Ok(ExitCode::FAILURE)
    }
}
