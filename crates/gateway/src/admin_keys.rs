//! Admin keys: loaded from `auth.admin_key_file`, checked in constant time.
//!
//! The file holds one key per line; blank lines and lines starting with `#` are ignored,
//! and surrounding whitespace is trimmed. When no file is configured the gateway creates
//! `<data_dir>/admin.key` (mode 0600) holding one new random key, and reuses it on later
//! starts; its *path* is logged, never the key.
//!
//! **Reloading.** Every check costs one `stat` of the file: when its modification time or
//! size differs from what was loaded, the file is read again, so adding or revoking a
//! key takes effect on the next request without a restart. If the file cannot be read
//! any more, no admin key is accepted until it can (fail closed). Admin requests are rare
//! (operators, scrapes), so the `stat` is not on any hot path.
//!
//! **Comparison.** The presented key and every loaded key are compared as SHA-256
//! digests (equal length by construction) with a constant-time equality, and the loop
//! always visits every key, so timing reveals neither which key matched nor how much of
//! a key was right.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use parking_lot::Mutex;
use subtle::{Choice, ConstantTimeEq};

use crate::secrets::{ADMIN_KEY_PREFIX, key_digest, new_secret};

/// File name of the generated admin key file inside the data directory.
pub(crate) const GENERATED_FILE: &str = "admin.key";

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

#[derive(Debug)]
struct Loaded {
    stamp: Option<FileStamp>,
    digests: Vec<[u8; 32]>,
}

/// The admin keys of one gateway.
#[derive(Debug)]
pub(crate) struct AdminKeys {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

fn stamp(path: &Path) -> std::io::Result<FileStamp> {
    let m = fs::metadata(path)?;
    Ok(FileStamp {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

/// The keys in an admin key file's text.
fn parse_keys(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn read_digests(path: &Path) -> std::io::Result<Vec<[u8; 32]>> {
    let text = fs::read_to_string(path)?;
    Ok(parse_keys(&text).into_iter().map(key_digest).collect())
}

impl AdminKeys {
    /// Loads the configured file, or creates/reuses `<data_dir>/admin.key` when none is
    /// configured. Fails when the file cannot be read or holds no key.
    pub(crate) fn open(configured: Option<&Path>, data_dir: &Path) -> anyhow::Result<AdminKeys> {
        let path = match configured {
            Some(p) => p.to_path_buf(),
            None => ensure_generated(data_dir)?,
        };
        let st = stamp(&path)
            .with_context(|| format!("auth.admin_key_file: cannot read {}", path.display()))?;
        let digests = read_digests(&path)
            .with_context(|| format!("auth.admin_key_file: cannot read {}", path.display()))?;
        if digests.is_empty() {
            anyhow::bail!(
                "auth.admin_key_file: {} holds no key (one key per line, '#' starts a comment)",
                path.display()
            );
        }
        Ok(AdminKeys {
            path,
            loaded: Mutex::new(Loaded {
                stamp: Some(st),
                digests,
            }),
        })
    }

    /// Whether `presented` is one of the admin keys (re-reading the file if it changed).
    pub(crate) fn verify(&self, presented: &str) -> bool {
        let digest = key_digest(presented);
        let mut loaded = self.loaded.lock();
        let current = stamp(&self.path).ok();
        if current != loaded.stamp {
            let digests = match current {
                Some(_) => read_digests(&self.path).unwrap_or_default(),
                None => Vec::new(),
            };
            if digests.is_empty() {
                tracing::warn!(path = %self.path.display(), "admin key file unreadable or empty; no admin key is accepted");
            } else {
                tracing::info!(path = %self.path.display(), keys = digests.len(), "admin key file reloaded");
            }
            loaded.digests = digests;
            loaded.stamp = current;
        }
        let mut found = Choice::from(0);
        for d in &loaded.digests {
            found |= d.ct_eq(&digest);
        }
        found.into()
    }
}

/// Creates `<data_dir>/admin.key` with one new key (mode 0600) unless it exists.
fn ensure_generated(data_dir: &Path) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(data_dir)
        .with_context(|| format!("storage.data_dir: cannot create {}", data_dir.display()))?;
    let path = data_dir.join(GENERATED_FILE);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            let key = new_secret(ADMIN_KEY_PREFIX);
            writeln!(
                f,
                "# agentgate admin key, generated because auth.admin_key_file is not set.\n{key}"
            )
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::warn!(path = %path.display(), "auth.admin_key_file is not set: generated an admin key; read it from this file");
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            tracing::info!(path = %path.display(), "using the generated admin key file");
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot create {}", path.display()));
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_comments_and_blanks() {
        assert_eq!(parse_keys("# c\n\n  k1  \n#k2\nk3\r\n"), vec!["k1", "k3"]);
    }

    #[test]
    fn generated_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = AdminKeys::open(None, dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join(GENERATED_FILE)).unwrap();
        let key = parse_keys(&text)[0].to_string();
        assert!(key.starts_with(ADMIN_KEY_PREFIX));
        assert!(a.verify(&key));
        assert!(!a.verify("nope"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(GENERATED_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = AdminKeys::open(None, dir.path()).unwrap();
        assert!(b.verify(&key), "second open reuses the file");
    }

    #[test]
    fn reloads_when_the_file_changes_and_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys");
        fs::write(&p, "one\n").unwrap();
        let k = AdminKeys::open(Some(&p), dir.path()).unwrap();
        assert!(k.verify("one"));
        fs::write(&p, "one\ntwo-is-longer\n").unwrap();
        assert!(k.verify("two-is-longer"));
        fs::remove_file(&p).unwrap();
        assert!(!k.verify("one"));
        fs::write(&p, "").unwrap();
        assert!(AdminKeys::open(Some(&p), dir.path()).is_err());
    }
}
