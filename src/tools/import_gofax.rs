//! `faxserver import gofaxserver`: gofaxserver's `config.json` and its PostgreSQL tables.
//! The config file gives the `psk` and, unless `--database-url` is given, the database
//! (`database.*` keys); its other keys are sorted into those `serve --config` reads itself
//! and those it ignores, so the operator knows what to carry over by hand.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use fs_compat::import::gofaxserver;
use serde_json::Value;
use store::NumberRules;

use super::import::{open_target, Target};
use crate::serve::config::{self, Database, Note};

/// `faxserver import gofaxserver`.
#[derive(Debug, clap::Args)]
pub struct GofaxArgs {
    /// gofaxserver's config.json (its `psk` and `database.*` keys).
    #[arg(long)]
    pub config: PathBuf,
    /// gofaxserver's database, instead of the one config.json's `database.*` keys name.
    #[arg(long)]
    pub database_url: Option<String>,
    #[command(flatten)]
    target: Target,
}

/// Runs the import.
pub async fn run(args: GofaxArgs) -> anyhow::Result<ExitCode> {
    let name = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config).with_context(|| format!("reading {name}"))?;
    let root: Value =
        serde_json::from_str(&text).with_context(|| format!("{name} is not valid JSON"))?;
    let psk = match root.get("psk") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => bail!("{name}: `psk` must be a string"),
    };
    if psk.is_empty() {
        println!("{name}: no psk; gofaxserver then used an all-zero key, and so does this import");
    }
    // Only POSTGRES_SSLMODE, as gofaxserver read it: FAXSERVER_* name faxserver's own
    // database, not gofaxserver's.
    let env = |k: &str| {
        (k == "POSTGRES_SSLMODE")
            .then(|| std::env::var(k).ok())
            .flatten()
    };
    let source_url = match (&args.database_url, config::load(Some((&name, &text)), &env)) {
        (Some(url), parsed) => {
            if let Ok(cfg) = &parsed {
                print_keys(&name, &root, &cfg.notes);
            }
            url.clone()
        }
        (None, Ok(cfg)) => {
            print_keys(&name, &root, &cfg.notes);
            match cfg.database {
                Database::Url(u) if u.starts_with("postgres") => u,
                _ => bail!("{name} has no database.* keys: pass --database-url postgres://…"),
            }
        }
        (None, Err(e)) => {
            bail!("{name}: {e:#}; pass --database-url to name gofaxserver's database")
        }
    };
    let (store, target) = open_target(&args.target).await?;
    if target == Database::Url(source_url.clone()) {
        bail!(
            "faxserver's database is gofaxserver's: they cannot share one (same table names); \
             point FAXSERVER_DATABASE_URL at another database"
        );
    }
    let source = gofaxserver::read(&source_url).await?;
    println!(
        "read {} tenant(s), {} number(s), {} endpoint(s), {} user(s) from gofaxserver",
        source.tenants.len(),
        source.numbers.len(),
        source.endpoints.len(),
        source.users.len()
    );
    let report = gofaxserver::apply(
        store.as_ref(),
        &source,
        &psk,
        &NumberRules::nanp(),
        chrono::Utc::now(),
    )
    .await?;
    for line in &report.done {
        println!("{line}");
    }
    for line in &report.notes {
        println!("note: {line}");
    }
    for line in &report.problems {
        println!("not imported: {line}");
    }
    println!(
        "{} row(s) in faxserver, {} not imported; a running server picks them up on \
         /admin/reload",
        report.done.len(),
        report.problems.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints which of the file's keys `serve --config` uses, and which it ignores and why.
fn print_keys(name: &str, root: &Value, notes: &[Note]) {
    let mut set = Vec::new();
    leaves(root, "", &mut set);
    let noted = |k: &str| {
        notes.iter().any(|n| match n {
            Note::Unknown(x) | Note::Unused(x, _) => x == k,
        })
    };
    let read: Vec<&str> = set
        .iter()
        .map(String::as_str)
        .filter(|k| !noted(k) && !k.starts_with("database.") && *k != "psk")
        .collect();
    if !read.is_empty() {
        println!(
            "{name}: read by `faxserver serve --config` as they are: {}",
            read.join(", ")
        );
    }
    println!(
        "{name}: psk and database.* are used by this import only; faxserver's own database \
         must be another one (FAXSERVER_DATABASE_URL or database.url)"
    );
    for n in notes {
        match n {
            Note::Unused(k, _) if k == "psk" => {}
            Note::Unused(k, why) => println!("{name}: ignored: {k}: {why}"),
            Note::Unknown(k) => println!("{name}: ignored: {k}: unknown key"),
        }
    }
}

/// Dotted paths of the values that say something (gofaxserver's samples are full of "").
fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &path, out);
            }
        }
        Value::Null | Value::Bool(false) => {}
        Value::String(s) if s.is_empty() => {}
        Value::Array(a) if a.is_empty() => {}
        _ => out.push(prefix.to_owned()),
    }
}
