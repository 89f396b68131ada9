//! `faxserver import`: existing FreeSWITCH and gofaxserver configurations into the store the
//! server is configured with (the same `--config`/`FAXSERVER_CONFIG` file and `FAXSERVER_*`
//! variables as `serve`). Each run reports what it could not carry over; a second run
//! changes nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use fs_compat::import::freeswitch::{apply_gateway, parse_gateways, Applied, ImportedGateway};
use store::Store;

use crate::serve::config::{self, Database};
use crate::serve::server::{open_store, prepare_dir};

/// What `faxserver import` was asked to do.
#[derive(Debug, clap::Subcommand)]
pub enum ImportArgs {
    /// Create or update gateways from FreeSWITCH sofia gateway XML files
    /// (conf/sip_profiles/external/*.xml).
    FreeswitchGateways(GatewaysArgs),
    /// Import gofaxserver's tenants, numbers, endpoints and users from its PostgreSQL
    /// database, re-hashing the PSK-encrypted passwords with argon2.
    Gofaxserver(super::import_gofax::GofaxArgs),
}

/// Which store to write to.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// faxserver's own config file (as `serve --config`); `FAXSERVER_CONFIG` names one too.
    /// Without either, `FAXSERVER_DATABASE_URL` or SQLite in `FAXSERVER_DATA_DIR` is used.
    #[arg(long)]
    pub faxserver_config: Option<PathBuf>,
}

/// `faxserver import freeswitch-gateways`.
#[derive(Debug, clap::Args)]
pub struct GatewaysArgs {
    /// XML files holding `<gateway>` elements.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    target: Target,
}

/// Runs one import.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    match args {
        ImportArgs::FreeswitchGateways(a) => runtime.block_on(gateways(a)),
        ImportArgs::Gofaxserver(a) => runtime.block_on(super::import_gofax::run(a)),
    }
}

/// Opens the store `serve` would use, creating the SQLite data directory as it does.
pub async fn open_target(target: &Target) -> anyhow::Result<(Arc<dyn Store>, Database)> {
    let env = |k: &str| std::env::var(k).ok();
    let path = target.faxserver_config.clone().or_else(|| {
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
    let cfg = config::load(name.as_deref().zip(text.as_deref()), &env)?;
    if let Database::SqlitePath(_) = cfg.database {
        prepare_dir(&cfg.data_dir)?;
    }
    let store = open_store(&cfg.database).await?;
    println!("importing into {:?}", cfg.database);
    Ok((store, cfg.database))
}

async fn gateways(args: GatewaysArgs) -> anyhow::Result<ExitCode> {
    let (store, _) = open_target(&args.target).await?;
    let mut failures = 0usize;
    let mut changed = 0usize;
    for file in &args.files {
        match read_file(file) {
            Ok(found) => {
                for g in &found.gateways {
                    let applied = apply_gateway(store.as_ref(), &g.gateway)
                        .await
                        .with_context(|| {
                            format!("{}: gateway {}", file.display(), g.gateway.name)
                        })?;
                    changed += usize::from(applied != Applied::Unchanged);
                    print_gateway(file, g, applied);
                }
                for r in &found.rejected {
                    failures += 1;
                    eprintln!(
                        "{}: gateway {:?} not imported: {}",
                        file.display(),
                        r.name,
                        r.reason
                    );
                }
            }
            Err(e) => {
                failures += 1;
                eprintln!("{}: {e:#}", file.display());
            }
        }
    }
    if changed > 0 {
        println!("{changed} gateway(s) written; a running server picks them up on /admin/reload");
    }
    if failures == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("faxserver import: {failures} file(s) or gateway(s) could not be imported");
        Ok(ExitCode::FAILURE)
    }
}

fn read_file(file: &Path) -> anyhow::Result<fs_compat::import::freeswitch::GatewayFile> {
    let text = std::fs::read_to_string(file).context("cannot read")?;
    let found = parse_gateways(&text)?;
    if found.gateways.is_empty() && found.rejected.is_empty() {
        anyhow::bail!("no <gateway> element found");
    }
    Ok(found)
}

fn print_gateway(file: &Path, g: &ImportedGateway, applied: Applied) {
    let gw = &g.gateway;
    let what = match applied {
        Applied::Created => "created",
        Applied::Updated => "updated",
        Applied::Unchanged => "unchanged",
    };
    println!(
        "{}: gateway {}: {what}: {} over {}, user {}, {}register",
        file.display(),
        gw.name,
        gw.uri,
        gw.transport.as_str(),
        gw.username.as_deref().unwrap_or("(none)"),
        if gw.register { "" } else { "no " },
    );
    for (name, value) in &g.unmapped {
        println!(
            "{}: gateway {}: not mapped: {name} = {value:?}",
            file.display(),
            gw.name
        );
    }
}
