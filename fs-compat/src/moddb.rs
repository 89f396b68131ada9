//! FreeSWITCH's `mod_db` API (`db insert|delete|select|exists|count|list/<realm>/…`) over the
//! store's key-value namespaces: a realm is a namespace, so what a tool writes to the
//! `fallback` and `override-<number>` realms is what the engine's T.38 policy reads
//! (`engine::policy::persist`).
//!
//! Replies are mod_db's: `+OK` after insert and delete, the value (empty when missing, which
//! the Event Socket turns into `-ERR no reply`) after select, `true`/`false` after exists,
//! and `!err!` for a malformed command. `count/<realm>` gives the number of keys and
//! `list/<realm>` the keys joined by `,`. Unlike mod_db, entries of the `fallback` realm
//! expire after the configured fallback period (design.md §6), and store failures answer
//! `-ERR database error` instead of an empty reply.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use engine::policy::persist::FALLBACK_NAMESPACE;
use store::Store;

/// The mod_db emulation.
#[derive(Clone)]
pub struct ModDb {
    store: Arc<dyn Store>,
    fallback_ttl: Option<Duration>,
}

impl std::fmt::Debug for ModDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModDb")
            .field("fallback_ttl", &self.fallback_ttl)
            .finish_non_exhaustive()
    }
}

const ERR: &str = "!err!";

impl ModDb {
    /// Over `store`; `fallback` entries written here expire after `fallback_ttl` (never when
    /// `None`).
    pub fn new(store: Arc<dyn Store>, fallback_ttl: Option<Duration>) -> Self {
        ModDb {
            store,
            fallback_ttl,
        }
    }

    /// Runs `db <arg>` at `now` and returns the reply body.
    pub async fn execute(&self, arg: &str, now: DateTime<Utc>) -> String {
        match self.run(arg, now).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(error = %e, "db command failed in the store");
                "-ERR database error\n".to_owned()
            }
        }
    }

    async fn run(&self, arg: &str, now: DateTime<Utc>) -> store::Result<String> {
        // switch_separate_string(…, '/', argv, 4): at most four fields, the last keeps any
        // further slashes (values may be paths or URLs).
        let argv: Vec<&str> = if arg.is_empty() {
            Vec::new()
        } else {
            arg.splitn(4, '/').collect()
        };
        let Some(action) = argv.first() else {
            return Ok(ERR.to_owned());
        };
        let field = |i: usize| argv.get(i).copied().unwrap_or_default();
        let reply = if action.eq_ignore_ascii_case("insert") {
            if argv.len() < 4 {
                return Ok(ERR.to_owned());
            }
            let expires = match self.fallback_ttl {
                Some(ttl) if argv[1] == FALLBACK_NAMESPACE => Some(now + ttl),
                _ => None,
            };
            self.store
                .kv_set(argv[1], argv[2], argv[3], expires)
                .await?;
            "+OK".to_owned()
        } else if action.eq_ignore_ascii_case("delete") {
            if argv.len() < 2 {
                return Ok(ERR.to_owned());
            }
            self.store.kv_delete(argv[1], field(2)).await?;
            "+OK".to_owned()
        } else if action.eq_ignore_ascii_case("select") {
            if argv.len() < 3 {
                return Ok(ERR.to_owned());
            }
            self.store
                .kv_get(argv[1], argv[2], now)
                .await?
                .map(|e| e.value)
                .unwrap_or_default()
        } else if action.eq_ignore_ascii_case("exists") {
            if argv.len() < 3 {
                return Ok(ERR.to_owned());
            }
            let found = self.store.kv_get(argv[1], argv[2], now).await?;
            // mod_db answers from the value it selects: an empty value reads as absent.
            let exists = found.is_some_and(|e| !e.value.is_empty());
            if exists { "true" } else { "false" }.to_owned()
        } else if action.eq_ignore_ascii_case("count") {
            if argv.len() < 2 {
                return Ok(ERR.to_owned());
            }
            self.store
                .kv_list(argv[1], "", now)
                .await?
                .len()
                .to_string()
        } else if action.eq_ignore_ascii_case("list") {
            if argv.len() < 2 {
                return Ok(ERR.to_owned());
            }
            let keys: Vec<String> = self
                .store
                .kv_list(argv[1], "", now)
                .await?
                .into_iter()
                .map(|e| e.key)
                .collect();
            keys.join(",")
        } else {
            ERR.to_owned()
        };
        Ok(reply)
    }
}
