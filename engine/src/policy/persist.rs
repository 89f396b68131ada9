//! Loading and saving the policy's memory through the [`Store`] key-value space.
//!
//! Key spaces (namespace / key → value, expiry in the entry's `expires_at`):
//! - `t38-flipflop` / `<caller>_<callee>` → [`PairState`] as JSON;
//! - `fallback` / `<number>` → Unix seconds when it was set (gofaxip's value), expiring
//!   at the end of the fallback period (or never, for entries written by hand);
//! - `override-<number>` / `<variable>` → value ([`Overrides`]).
//!
//! Keeping the flip-flop state in the store (gofaxserver kept it in memory) means it survives
//! restarts and is shared by every node on one database. Unreadable entries are logged and
//! treated as absent: a damaged row must not stop a fax.

use chrono::{DateTime, Utc};
use store::Store;

use super::{Fallback, History, Overrides, PairState};
use crate::call::FaxDirection;

/// Namespace of the flip-flop states.
pub const FLIP_FLOP_NAMESPACE: &str = "t38-flipflop";
/// Namespace of the softmodem fallbacks (gofaxip's `fallback` realm).
pub const FALLBACK_NAMESPACE: &str = "fallback";
/// Prefix of the per-number override namespaces.
pub const OVERRIDE_NAMESPACE_PREFIX: &str = "override-";

/// The numbers of a call, as normalised for routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// The calling number.
    pub caller: String,
    /// The called number.
    pub callee: String,
    /// Which way the document goes.
    pub direction: FaxDirection,
}

impl Parties {
    /// The far end's number: a learned fallback is keyed by it (the callee when sending, the
    /// caller when receiving, as gofaxip did).
    pub fn remote(&self) -> &str {
        match self.direction {
            FaxDirection::Send => &self.callee,
            FaxDirection::Receive => &self.caller,
        }
    }

    /// The numbers whose fallback applies: the callee when sending; caller and callee when
    /// receiving (behaviour §6.2). Empty numbers (anonymous callers) are skipped.
    pub fn fallback_numbers(&self) -> Vec<&str> {
        let numbers = match self.direction {
            FaxDirection::Send => vec![self.callee.as_str()],
            FaxDirection::Receive => vec![self.caller.as_str(), self.callee.as_str()],
        };
        numbers.into_iter().filter(|n| !n.is_empty()).collect()
    }

    /// The flip-flop key, `<caller>_<callee>`; `None` when either number is unknown, since
    /// anonymous calls have no pair to learn about.
    pub fn pair_key(&self) -> Option<String> {
        if self.caller.is_empty() || self.callee.is_empty() {
            return None;
        }
        Some(format!("{}_{}", self.caller, self.callee))
    }
}

/// The override namespace of a number, `override-<number>`.
pub fn override_namespace(number: &str) -> String {
    format!("{OVERRIDE_NAMESPACE_PREFIX}{number}")
}

/// Loads the pair's flip-flop state and the first active fallback on the call's numbers.
pub async fn load_history(
    store: &dyn Store,
    parties: &Parties,
    now: DateTime<Utc>,
) -> store::Result<History> {
    let mut history = History::default();
    if let Some(key) = parties.pair_key() {
        if let Some(entry) = store.kv_get(FLIP_FLOP_NAMESPACE, &key, now).await? {
            match serde_json::from_str::<PairState>(&entry.value) {
                Ok(state) => history.pair = Some(state),
                Err(e) => tracing::warn!(error = %e, "unreadable T.38 flip-flop state ignored"),
            }
        }
    }
    for number in parties.fallback_numbers() {
        if let Some(entry) = store.kv_get(FALLBACK_NAMESPACE, number, now).await? {
            history.fallback = Some(fallback_from(&entry.value, entry.expires_at));
            break;
        }
    }
    Ok(history)
}

/// Saves what [`super::learn`] changed between `before` and `after`.
pub async fn save_history(
    store: &dyn Store,
    parties: &Parties,
    before: &History,
    after: &History,
) -> store::Result<()> {
    if let (Some(key), Some(state)) = (parties.pair_key(), &after.pair) {
        if before.pair.as_ref() != Some(state) {
            // Serializing a struct of plain fields cannot fail; skip rather than panic if so.
            if let Ok(json) = serde_json::to_string(state) {
                store
                    .kv_set(FLIP_FLOP_NAMESPACE, &key, &json, Some(state.expires_at))
                    .await?;
            }
        }
    }
    if let Some(fallback) = &after.fallback {
        let remote = parties.remote();
        if before.fallback.as_ref() != Some(fallback) && !remote.is_empty() {
            set_fallback(store, remote, fallback).await?;
        }
    }
    Ok(())
}

/// Loads a number's overrides.
pub async fn load_overrides(
    store: &dyn Store,
    number: &str,
    now: DateTime<Utc>,
) -> store::Result<Overrides> {
    let entries = store.kv_list(&override_namespace(number), "", now).await?;
    Ok(Overrides::from_entries(
        entries.into_iter().map(|e| (e.key, e.value)),
    ))
}

/// Sets (or replaces) a number's softmodem fallback.
pub async fn set_fallback(
    store: &dyn Store,
    number: &str,
    fallback: &Fallback,
) -> store::Result<()> {
    let value = fallback
        .since
        .map(|t| t.timestamp().to_string())
        .unwrap_or_default();
    store
        .kv_set(FALLBACK_NAMESPACE, number, &value, fallback.until)
        .await
}

/// Removes a number's softmodem fallback; false if it had none.
pub async fn clear_fallback(store: &dyn Store, number: &str) -> store::Result<bool> {
    store.kv_delete(FALLBACK_NAMESPACE, number).await
}

/// Lists the active softmodem fallbacks, by number.
pub async fn list_fallbacks(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> store::Result<Vec<(String, Fallback)>> {
    let entries = store.kv_list(FALLBACK_NAMESPACE, "", now).await?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let f = fallback_from(&e.value, e.expires_at);
            (e.key, f)
        })
        .collect())
}

/// Any value marks the fallback active (gofaxip only asked whether the key exists); Unix
/// seconds, when that is what it holds, say since when.
fn fallback_from(value: &str, until: Option<DateTime<Utc>>) -> Fallback {
    let since = value
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0));
    Fallback { since, until }
}
