//! The calls in progress, as FreeSWITCH channels: what `show channels`, `show calls`,
//! `status` and the rendered events need to know about each call.
//!
//! Filled from the engine's event bus by the server's render task. Calls placed through an
//! ESL `originate` keep the client's `origination_uuid` as their `Unique-ID` (gofaxserver
//! filters events on it) and its channel variables.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use engine::call::FaxDirection;
use engine::events::CallInfo;

/// Originations remembered at most (oldest forgotten first), so that jobs whose end we never
/// hear about cannot grow the table without bound.
const MAX_ORIGINATIONS: usize = 10_000;

/// FreeSWITCH's call states (`switch_channel_callstate_t`) that faxserver goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// `DOWN` (0).
    Down,
    /// `RINGING` (2).
    Ringing,
    /// `ACTIVE` (4).
    Active,
    /// `HANGUP` (7).
    Hangup,
}

impl CallState {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            CallState::Down => "DOWN",
            CallState::Ringing => "RINGING",
            CallState::Active => "ACTIVE",
            CallState::Hangup => "HANGUP",
        }
    }

    /// `Channel-Call-State-Number`.
    pub fn number(self) -> u8 {
        match self {
            CallState::Down => 0,
            CallState::Ringing => 2,
            CallState::Active => 4,
            CallState::Hangup => 7,
        }
    }
}

/// What an ESL `originate` asked for, kept until the job's calls are over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origination {
    /// The `Unique-ID` its calls get (`origination_uuid`, or the job's id).
    pub uuid: String,
    /// The `{…}` channel variables, in order.
    pub variables: Vec<(String, String)>,
}

/// One call as a FreeSWITCH channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// `Unique-ID`.
    pub uuid: String,
    /// The engine's description of the call.
    pub call: CallInfo,
    /// When the call was created.
    pub created: DateTime<Utc>,
    /// When it was answered.
    pub answered: Option<DateTime<Utc>>,
    /// When it ended.
    pub hangup: Option<DateTime<Utc>>,
    /// The call state.
    pub state: CallState,
    /// Channel variables (without the `variable_` prefix), in the order they were set.
    pub variables: Vec<(String, String)>,
}

impl Channel {
    /// `outbound` when we placed the call (sending), `inbound` when we answered it.
    pub fn direction(&self) -> &'static str {
        match self.call.direction {
            FaxDirection::Send => "outbound",
            FaxDirection::Receive => "inbound",
        }
    }

    /// `Channel-Name`, in mod_sofia's style.
    pub fn name(&self) -> String {
        match (&self.call.direction, &self.call.gateway) {
            (FaxDirection::Send, Some(gw)) => format!("sofia/gateway/{gw}/{}", self.call.callee),
            (FaxDirection::Send, None) => format!("sofia/faxserver/{}", self.call.callee),
            (FaxDirection::Receive, _) => format!("sofia/faxserver/{}", self.call.caller),
        }
    }

    /// A channel variable.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets (or replaces) a channel variable.
    pub fn set_variable(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .variables
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => *v = value,
            None => self.variables.push((name.to_owned(), value)),
        }
    }

    /// The caller-ID name: `origination_caller_id_name` when an originate set it.
    pub fn caller_name(&self) -> String {
        self.variable("origination_caller_id_name")
            .map_or_else(|| self.call.caller.clone(), str::to_owned)
    }
}

#[derive(Debug, Default)]
struct Inner {
    live: BTreeMap<String, Channel>,
    originations: HashMap<String, Origination>,
    order: VecDeque<String>,
    since_startup: u64,
    peak: usize,
}

/// Live channels and remembered originations, shared by the render task and the API.
#[derive(Debug, Default)]
pub struct Channels {
    inner: Mutex<Inner>,
}

impl Channels {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers what an `originate` asked for, for the calls of `job_uuid`.
    pub fn note_origination(&self, job_uuid: &str, origination: Origination) {
        let mut inner = self.lock();
        if inner
            .originations
            .insert(job_uuid.to_owned(), origination)
            .is_none()
        {
            inner.order.push_back(job_uuid.to_owned());
        }
        while inner.order.len() > MAX_ORIGINATIONS {
            if let Some(old) = inner.order.pop_front() {
                inner.originations.remove(&old);
            }
        }
    }

    /// Forgets a job's origination (its job is over).
    pub fn forget_origination(&self, job_uuid: &str) {
        let mut inner = self.lock();
        if inner.originations.remove(job_uuid).is_some() {
            inner.order.retain(|j| j != job_uuid);
        }
    }

    /// The channel of `call`, created (and counted) if it is new; `created` tells which.
    pub fn open(&self, call: &CallInfo, at: DateTime<Utc>) -> (Channel, bool) {
        let mut inner = self.lock();
        if let Some(ch) = inner.live.get_mut(&call.call_uuid) {
            ch.call = call.clone();
            return (ch.clone(), false);
        }
        let origination = call
            .job_uuid
            .as_ref()
            .and_then(|j| inner.originations.get(j))
            .cloned();
        let mut channel = Channel {
            uuid: origination
                .as_ref()
                .map_or_else(|| call.call_uuid.clone(), |o| o.uuid.clone()),
            call: call.clone(),
            created: at,
            answered: None,
            hangup: None,
            state: CallState::Down,
            variables: Vec::new(),
        };
        for (n, v) in origination.map(|o| o.variables).unwrap_or_default() {
            channel.set_variable(&n, v);
        }
        inner.since_startup += 1;
        inner.live.insert(call.call_uuid.clone(), channel.clone());
        inner.peak = inner.peak.max(inner.live.len());
        (channel, true)
    }

    /// Changes the channel of `call` (opening it if needed) and returns it as changed.
    pub fn update(
        &self,
        call: &CallInfo,
        at: DateTime<Utc>,
        change: impl FnOnce(&mut Channel),
    ) -> Channel {
        self.open(call, at);
        let mut inner = self.lock();
        match inner.live.get_mut(&call.call_uuid) {
            Some(ch) => {
                change(ch);
                ch.clone()
            }
            None => {
                // Only reachable if the call was closed between the two locks.
                drop(inner);
                let (mut ch, _) = self.open(call, at);
                change(&mut ch);
                ch
            }
        }
    }

    /// Removes the channel of `call`, returning it.
    pub fn close(&self, call_uuid: &str) -> Option<Channel> {
        self.lock().live.remove(call_uuid)
    }

    /// Live channels, oldest first.
    pub fn list(&self) -> Vec<Channel> {
        let mut list: Vec<Channel> = self.lock().live.values().cloned().collect();
        list.sort_by(|a, b| a.created.cmp(&b.created).then(a.uuid.cmp(&b.uuid)));
        list
    }

    /// The live channel with this `Unique-ID` (or engine call id).
    pub fn find(&self, uuid: &str) -> Option<Channel> {
        let inner = self.lock();
        inner
            .live
            .get(uuid)
            .or_else(|| inner.live.values().find(|c| c.uuid == uuid))
            .cloned()
    }

    /// (live now, created since start, most at once).
    pub fn counts(&self) -> (usize, u64, usize) {
        let inner = self.lock();
        (inner.live.len(), inner.since_startup, inner.peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(uuid: &str, job: Option<&str>) -> CallInfo {
        CallInfo {
            call_uuid: uuid.into(),
            job_uuid: job.map(str::to_owned),
            tenant_id: None,
            sip_call_id: "cid".into(),
            direction: FaxDirection::Send,
            caller: "100".into(),
            callee: "200".into(),
            gateway: Some("gw".into()),
        }
    }

    #[test]
    fn originations_rename_channels_and_set_variables() {
        let t = Channels::new();
        t.note_origination(
            "job-1",
            Origination {
                uuid: "orig-1".into(),
                variables: vec![("fax_ident".into(), "ACME".into())],
            },
        );
        let (ch, created) = t.open(&call("c1", Some("job-1")), Utc::now());
        assert!(created);
        assert_eq!(ch.uuid, "orig-1");
        assert_eq!(ch.variable("FAX_IDENT"), Some("ACME"));
        assert_eq!(ch.name(), "sofia/gateway/gw/200");
        let (_, created) = t.open(&call("c1", Some("job-1")), Utc::now());
        assert!(!created);
        assert!(t.find("orig-1").is_some());
        assert_eq!(t.counts(), (1, 1, 1));
        t.update(&call("c1", None), Utc::now(), |c| {
            c.set_variable("fax_ident", "X")
        });
        assert_eq!(t.find("c1").unwrap().variable("fax_ident"), Some("X"));
        assert!(t.close("c1").is_some());
        assert_eq!(t.counts(), (0, 1, 1));
        t.forget_origination("job-1");
        let (ch, _) = t.open(&call("c2", Some("job-1")), Utc::now());
        assert_eq!(ch.uuid, "c2");
    }
}
