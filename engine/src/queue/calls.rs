//! What the queue tells the rest of the server while calls run: the events it publishes on
//! the [`EventBus`], and the live calls with their hang-up switches (the Event Socket's
//! `uuid_kill` and `hupall`).
//!
//! Publishing is a non-blocking broadcast send and hanging up only flips a `watch`: neither
//! waits on anybody, so neither can slow a call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::events::{CallInfo, EngineEvent, EventBus};

/// The bus (when the server has one) and the live calls; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Events {
    /// Where events go; `None` publishes nothing.
    pub bus: Option<EventBus>,
    /// The calls running on this node.
    pub calls: LiveCalls,
}

impl Events {
    /// Events published on `bus`.
    pub fn on(bus: EventBus) -> Self {
        Events {
            bus: Some(bus),
            calls: LiveCalls::default(),
        }
    }

    /// Publishes `event` when there is a bus.
    pub fn publish(&self, event: EngineEvent) {
        if let Some(bus) = &self.bus {
            bus.publish(event);
        }
    }
}

struct Entry {
    job_uuid: Option<String>,
    hangup: Arc<watch::Sender<bool>>,
}

/// The calls running on this node, by the engine's call uuid.
#[derive(Clone, Default)]
pub struct LiveCalls(Arc<Mutex<HashMap<String, Entry>>>);

impl std::fmt::Debug for LiveCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCalls")
            .field("running", &self.len())
            .finish()
    }
}

/// Keeps a call in the list; dropping it removes the call.
pub(crate) struct Registered {
    calls: LiveCalls,
    call_uuid: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.calls.lock().remove(&self.call_uuid);
    }
}

impl LiveCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a call; `hangup` is sent `true` to end it.
    pub(crate) fn register(&self, call: &CallInfo, hangup: Arc<watch::Sender<bool>>) -> Registered {
        self.lock().insert(
            call.call_uuid.clone(),
            Entry {
                job_uuid: call.job_uuid.clone(),
                hangup,
            },
        );
        Registered {
            calls: self.clone(),
            call_uuid: call.call_uuid.clone(),
        }
    }

    /// Hangs up the call with this call uuid, or every call of the job with this uuid;
    /// false when none runs.
    pub fn hang_up(&self, uuid: &str) -> bool {
        let calls = self.lock();
        let mut found = false;
        for (call_uuid, e) in calls.iter() {
            if call_uuid == uuid || e.job_uuid.as_deref() == Some(uuid) {
                e.hangup.send_replace(true);
                found = true;
            }
        }
        found
    }

    /// Hangs up every call; returns how many.
    pub fn hang_up_all(&self) -> usize {
        let calls = self.lock();
        for e in calls.values() {
            e.hangup.send_replace(true);
        }
        calls.len()
    }

    /// Calls running now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no call runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A per-call hang-up switch that also turns on when `shutdown` does (the shutdown's cancel
/// after its grace time); the watcher ends once the call has dropped its receiver.
pub(crate) fn hangup_switch(
    mut shutdown: watch::Receiver<bool>,
) -> (Arc<watch::Sender<bool>>, watch::Receiver<bool>) {
    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    let relay = tx.clone();
    tokio::spawn(async move {
        tokio::select! {
            r = shutdown.wait_for(|c| *c) => if r.is_ok() { relay.send_replace(true); },
            () = relay.closed() => {}
        }
    });
    (tx, rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::FaxDirection;

    fn info(call: &str, job: Option<&str>) -> CallInfo {
        CallInfo {
            call_uuid: call.into(),
            job_uuid: job.map(str::to_owned),
            tenant_id: Some(1),
            sip_call_id: String::new(),
            direction: FaxDirection::Send,
            caller: String::new(),
            callee: String::new(),
            gateway: None,
        }
    }

    #[tokio::test]
    async fn hang_up_by_call_or_job_and_forget_on_drop() {
        let calls = LiveCalls::default();
        let (a_tx, a_rx) = watch::channel(false);
        let (b_tx, b_rx) = watch::channel(false);
        let a = calls.register(&info("c1", Some("j1")), Arc::new(a_tx));
        let _b = calls.register(&info("c2", None), Arc::new(b_tx));
        assert!(!calls.hang_up("nothing"));
        assert!(calls.hang_up("j1"));
        assert!(*a_rx.borrow() && !*b_rx.borrow());
        assert!(calls.hang_up("c2"));
        assert!(*b_rx.borrow());
        drop(a);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls.hang_up_all(), 1);
    }

    #[tokio::test]
    async fn the_switch_follows_the_shutdown() {
        let (stop, shutdown) = watch::channel(false);
        let (_tx, mut rx) = hangup_switch(shutdown);
        stop.send_replace(true);
        rx.wait_for(|c| *c).await.unwrap();
    }
}
