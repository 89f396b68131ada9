//! Files `serve` keeps in the data directory: the generated admin API key (0600, printed
//! once, when it is made) and this node's id (the owner name on its job leases).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rand_core::{OsRng, RngCore};

use super::config::Secret;

/// The admin key file in the data directory.
pub const ADMIN_KEY_FILE: &str = "admin-api-key";
/// The node id file in the data directory.
pub const NODE_ID_FILE: &str = "node-id";

/// Where an admin key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The environment or the config file.
    Configured,
    /// Read from the key file written on an earlier start.
    Stored(PathBuf),
    /// Made now and written to this file.
    Generated(PathBuf),
}

/// The admin key: the configured one, else the one stored in `data_dir`, else a new one
/// written there with mode 0600.
pub fn admin_key(
    configured: Option<&Secret>,
    data_dir: &Path,
) -> anyhow::Result<(Secret, KeySource)> {
    if let Some(k) = configured {
        if k.0.is_empty() {
            bail!("the configured admin API key is empty");
        }
        return Ok((k.clone(), KeySource::Configured));
    }
    let path = data_dir.join(ADMIN_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_owned();
            if key.is_empty() {
                bail!("{} is empty; delete it to get a new key", path.display());
            }
            let mode = std::fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "the admin key file is readable by others; chmod 600 it");
            }
            return Ok((Secret(key), KeySource::Stored(path)));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let key = random_hex(32);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{key}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((Secret(key), KeySource::Generated(path)))
}

/// This node's id: read from `data_dir`, or made and stored on the first start, so that
/// after a restart the node knows which leases were its own.
pub fn node_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let id = format!("node-{}", random_hex(8));
    std::fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, src1) = admin_key(None, dir.path()).unwrap();
        assert!(matches!(src1, KeySource::Generated(_)));
        assert_eq!(k1.0.len(), 64);
        let path = dir.path().join(ADMIN_KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (k2, src2) = admin_key(None, dir.path()).unwrap();
        assert_eq!(k1, k2);
        assert_eq!(src2, KeySource::Stored(path));
        let configured = Secret("mine".into());
        let (k3, src3) = admin_key(Some(&configured), dir.path()).unwrap();
        assert_eq!((k3, src3), (configured, KeySource::Configured));
        assert!(admin_key(Some(&Secret(String::new())), dir.path()).is_err());
    }

    #[test]
    fn node_id_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = node_id(dir.path()).unwrap();
        assert!(a.starts_with("node-"));
        assert_eq!(node_id(dir.path()).unwrap(), a);
    }
}
