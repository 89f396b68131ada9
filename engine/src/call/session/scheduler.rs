//! The media clock of every call in a runtime: a few shard tasks, each ticking its calls in
//! turn every 20 ms, instead of one timer, one task wake-up and one `select!` per call per
//! tick. At a thousand calls those cost more than the UDPTL itself (profiled: the timer
//! wheel, task wake-ups and select polling were about 15 % of a T.38 receiver's CPU).
//!
//! A call joins the least loaded shard once its session is built and leaves it when the
//! session says stop; the call's own task sleeps meanwhile and does the asynchronous
//! tail (waiting for the last SIP answers, the report). Shards start their ticks at
//! offsets spread over the 20 ms, so calls' packets do not all leave at once. SIP events
//! and the call's timers are taken on its tick: at most 20 ms late, which neither SIP nor
//! T.30 notices. T.38 calls take their ticks two at a time, every other shard tick (see
//! [`T38_TICKS_PER_STEP`]); audio calls one at a time.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use media::socket::ReadinessSet;
use tokio::runtime::{Handle, Id as RuntimeId};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant as TokioInstant, MissedTickBehavior};

use super::guard::panic_text;
use super::{Flow, Session};
use crate::call::clock::{catch_up, TICK};
use crate::call::doorbell::Bell;
use crate::call::handle::HangupGuard;
use crate::call::media_load::TickStamp;
use crate::call::CallReport;

/// Shards per runtime and speed: enough that one shard's turn (its calls' SpanDSP work)
/// stays a few ms, so other tasks on the worker (SIP, API) are not held up long, and the
/// workers share the load in small pieces (500 G.711 receptions are about 3 ms of work per
/// shard per tick at 16 shards).
const SHARDS: usize = 16;

/// Every call's events are looked at this often (ticks) even if the doorbell did not ring:
/// a ring and a call joining its shard can cross, and nothing must wait for ever.
const SWEEP_TICKS: u64 = 50;

/// A T.38 call runs its media ticks two at a time, every other shard tick. At two thousand
/// calls every call's memory (SpanDSP's ~90 KB, the session, the socket, the UDPTL windows)
/// is out of cache by its next tick, and those misses cost more than the work the tick does;
/// the second tick of a pair finds it all warm. T.38 does not notice: UDPTL carries no
/// timestamps, SpanDSP paces its data in 30 ms chunks that already go out on a 20 ms grid,
/// and every T.38 peer holds a jitter buffer far longer than 20 ms. Audio keeps one tick per
/// 20 ms: the far end plays it out frame by frame.
const T38_TICKS_PER_STEP: u64 = 2;

/// What a shard gives back: the session when it stopped, or the report of a call that
/// panicked.
type Outcome = Result<Session, CallReport>;

struct Entry {
    session: Session,
    /// The descriptor of its socket once the shard's readiness set has taken it.
    watched: Option<RawFd>,
    /// It has had a tick on the shard (the first one takes whatever events came before).
    joined: bool,
    /// What it owes the shard's clock since its last step (see [`T38_TICKS_PER_STEP`]).
    owed: Debt,
    /// Its media was T.38 after its last step: kept here so that a tick it sits out reads
    /// nothing of the session.
    t38: bool,
    /// The report as the call began, for a call that panics (its session is dropped).
    fallback: CallReport,
    guard: HangupGuard,
    done: oneshot::Sender<Outcome>,
}

#[derive(Clone)]
struct Shard {
    tx: mpsc::UnboundedSender<Entry>,
    load: Arc<AtomicUsize>,
    bell: Bell,
    stamp: Arc<TickStamp>,
}

/// The shards of each runtime and media speed. A runtime's shards end with it (tests run
/// many runtimes in one process); their closed channels are pruned on the next lookup.
type Registry = Mutex<HashMap<(RuntimeId, u32), Vec<Shard>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The shards of the current runtime for `speed`, started now if they were not yet.
fn shards_of(map: &mut HashMap<(RuntimeId, u32), Vec<Shard>>, speed: u32) -> &mut Vec<Shard> {
    let runtime = Handle::current();
    map.retain(|_, shards| shards.iter().all(|s| !s.tx.is_closed()));
    map.entry((runtime.id(), speed)).or_insert_with(|| {
        let period = TICK / speed.max(1);
        (0..SHARDS)
            .map(|i| {
                let (tx, rx) = mpsc::unbounded_channel();
                let load = Arc::new(AtomicUsize::new(0));
                let bell = Bell::default();
                let stamp = Arc::new(TickStamp::new(period));
                let parts = ShardParts {
                    load: load.clone(),
                    bell: bell.clone(),
                    stamp: stamp.clone(),
                };
                runtime.spawn(run_shard(speed, i, rx, parts));
                Shard {
                    tx,
                    load,
                    bell,
                    stamp,
                }
            })
            .collect()
    })
}

fn least_loaded(speed: u32) -> Shard {
    let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
    let shard = shards_of(&mut map, speed)
        .iter()
        .min_by_key(|s| s.load.load(Ordering::Relaxed))
        .cloned()
        .unwrap_or_else(|| unreachable!("SHARDS > 0"));
    shard.load.fetch_add(1, Ordering::Relaxed);
    shard
}

/// Starts the current runtime's shards for `speed` if they are not running yet.
pub(crate) fn start(speed: u32) {
    let mut map = registry().lock().unwrap_or_else(|e| e.into_inner());
    shards_of(&mut map, speed);
}

/// How late the latest of the current runtime's shards is at `now` (zero outside a runtime).
pub(crate) fn lateness(now: std::time::Instant) -> std::time::Duration {
    let Ok(runtime) = Handle::try_current() else {
        return std::time::Duration::ZERO;
    };
    let map = registry().lock().unwrap_or_else(|e| e.into_inner());
    map.iter()
        .filter(|((id, _), _)| *id == runtime.id())
        .flat_map(|(_, shards)| shards.iter())
        .map(|s| s.stamp.lateness(now))
        .max()
        .unwrap_or_default()
}

/// Runs `session` on a shard until it stops; gives it back for the call's tail.
pub(super) async fn drive(session: Session) -> Outcome {
    let mut fallback = session.report.clone();
    let guard = session.handle.hangup_guard();
    let shard_guard = session.handle.hangup_guard();
    let speed = session.settings.speed;
    let (done, result) = oneshot::channel();
    let shard = least_loaded(speed);
    session.handle.doorbell.hang(shard.bell.clone());
    let entry = Entry {
        session,
        watched: None,
        joined: false,
        owed: Debt::default(),
        t38: false,
        fallback: fallback.clone(),
        guard: shard_guard,
        done,
    };
    if shard.tx.send(entry).is_ok() {
        if let Ok(outcome) = result.await {
            return outcome;
        }
    }
    // The shard went away with its runtime, taking the session along.
    guard.bye();
    fallback.failure = Some("internal error: the media scheduler has stopped".into());
    Err(fallback)
}

/// What a shard shares with the registry.
struct ShardParts {
    load: Arc<AtomicUsize>,
    bell: Bell,
    stamp: Arc<TickStamp>,
}

async fn run_shard(
    speed: u32,
    index: usize,
    mut rx: mpsc::UnboundedReceiver<Entry>,
    parts: ShardParts,
) {
    let ShardParts { load, bell, stamp } = parts;
    let period = TICK / speed.max(1);
    let offset = period * u32::try_from(index).unwrap_or(0) / SHARDS as u32;
    let mut interval = tokio::time::interval_at(TokioInstant::now() + offset, period);
    // As for a call's own clock: a late wake-up runs the missed ticks back to back, up to
    // the cap in `catch_up`; beyond it they are skipped.
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut calls: Vec<Entry> = Vec::new();
    let mut open = true;
    let mut readiness = Readiness::new();
    let mut heard = 0;
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            biased;
            entry = rx.recv(), if open => match entry {
                Some(entry) => calls.push(entry),
                None => open = false,
            },
            due = interval.tick() => {
                stamp.record(due.into_std());
                let late = TokioInstant::now().saturating_duration_since(due);
                let behind = (late.as_nanos() / period.as_nanos().max(1)) as u64;
                let plan = catch_up(behind);
                if plan.skip > 0 {
                    interval.reset();
                }
                readiness.poll();
                let rung = bell.load(Ordering::SeqCst);
                ticks += 1;
                let events = rung != heard || ticks % SWEEP_TICKS == 0;
                heard = rung;
                step_all(&mut calls, plan.skip, &readiness, events);
                load.store(calls.len(), Ordering::Relaxed);
                // A late shard's missed ticks are all ready at once, and tokio's budget
                // would let it run dozens of them (hundreds of ms) before other tasks on
                // this worker (SIP, the other shards) get a turn: one tick per turn.
                tokio::task::yield_now().await;
            }
        }
        if !open && calls.is_empty() {
            return;
        }
    }
}

/// Which of a shard's T.38 sockets have datagrams queued, asked once per tick. Only T.38
/// sockets are watched: a T.38 sender hears from the far end a few times per page, so most
/// of its ticks would otherwise end in an empty `recvfrom`; G.711 brings a packet every tick,
/// where watching would only add the kernel's epoll work per packet.
struct Readiness {
    /// `None` if the kernel refused an epoll instance: no socket is watched.
    set: Option<ReadinessSet>,
    /// The poll failed once: sockets are no longer watched, and ask every tick again.
    broken: bool,
    /// Descriptors reported this tick, sorted. A closed socket's number may come back for
    /// another socket: at worst that socket asks the kernel once for nothing.
    ready: Vec<usize>,
}

impl Readiness {
    fn new() -> Self {
        let set = ReadinessSet::new()
            .inspect_err(|e| tracing::warn!("media readiness poll unavailable: {e}"))
            .ok();
        Readiness {
            set,
            broken: false,
            ready: Vec::new(),
        }
    }

    fn poll(&mut self) {
        self.ready.clear();
        let Some(set) = &mut self.set else { return };
        if self.broken {
            return;
        }
        if let Err(e) = set.ready(&mut self.ready) {
            tracing::warn!("media readiness poll failed, sockets are asked every tick: {e}");
            self.broken = true;
            self.ready.clear();
            return;
        }
        self.ready.sort_unstable();
    }

    /// Before a call's tick: watches its socket when it carries T.38 (and stops when it no
    /// longer does), and lets it receive if the kernel reported it.
    fn prepare(&self, entry: &mut Entry) {
        let Some(set) = &self.set else { return };
        let t38 = entry.session.media_is_t38();
        let Some(socket) = entry.session.media_socket_mut() else {
            return;
        };
        if !t38 || self.broken {
            if entry.watched.take().is_some() {
                set.forget(socket);
            }
            return;
        }
        let fd = socket.as_raw_fd();
        let Ok(key) = usize::try_from(fd) else { return };
        if entry.watched != Some(fd) {
            // Tried once per socket: one the kernel will not watch asks every tick instead.
            if let Err(e) = set.watch(socket, key) {
                tracing::debug!("media socket not watched: {e}");
            }
            entry.watched = Some(fd);
        } else if self.reported(key) {
            socket.mark_ready();
        }
    }

    /// Whether the kernel reported the socket under `key` this tick.
    fn reported(&self, key: usize) -> bool {
        self.ready.binary_search(&key).is_ok()
    }

    /// On a tick a call sits out: lets its socket receive on its next step if the kernel
    /// reported it now (the report comes once), touching the session only then.
    fn note_reported(&self, entry: &mut Entry) {
        let Some(key) = entry.watched.and_then(|fd| usize::try_from(fd).ok()) else {
            return;
        };
        if self.reported(key) {
            if let Some(socket) = entry.session.media_socket_mut() {
                socket.mark_ready();
            }
        }
    }

    /// A call leaves the shard: its socket (still open for the call's tail) is no longer
    /// watched and asks the kernel on every receive again.
    fn release(&self, entry: &mut Entry) {
        if entry.watched.take().is_none() {
            return;
        }
        if let (Some(set), Some(socket)) = (&self.set, entry.session.media_socket_mut()) {
            set.forget(socket);
        }
    }
}

/// What a call owes the shard's clock: the ticks that passed since its last step, the ticks
/// the shard dropped meanwhile, and whether the doorbell rang.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Debt {
    ticks: u64,
    skip: u64,
    events: bool,
}

impl Debt {
    /// One shard tick passed, after `skip` dropped ones, with `events` rung: what to run now,
    /// or nothing while fewer than `per_step` ticks are owed.
    fn tick(&mut self, skip: u64, events: bool, per_step: u64) -> Option<Debt> {
        self.ticks += 1;
        self.skip += skip;
        self.events |= events;
        (self.ticks >= per_step).then(|| std::mem::take(self))
    }
}

/// One tick of every call; those that stop (or panic) leave with their outcome. Calls are
/// stepped where they lie: an entry is a few KB, and moving every one into a new vector
/// each tick was the largest single cost of a T.38 call in the profile.
fn step_all(calls: &mut Vec<Entry>, skip: u64, readiness: &Readiness, events: bool) {
    let mut i = 0;
    while let Some(entry) = calls.get_mut(i) {
        let per_step = if entry.t38 { T38_TICKS_PER_STEP } else { 1 };
        let events = events || !entry.joined;
        let Some(due) = entry.owed.tick(skip, events, per_step) else {
            readiness.note_reported(entry);
            i += 1;
            continue;
        };
        readiness.prepare(entry);
        entry.joined = true;
        let run = |session: &mut Session| {
            let mut flow = session.step(due.skip, due.events);
            for _ in 1..due.ticks {
                if flow == Flow::Stop {
                    break;
                }
                flow = session.step(0, false);
            }
            flow
        };
        match catch_unwind(AssertUnwindSafe(|| run(&mut entry.session))) {
            Ok(Flow::Go) => {
                entry.t38 = entry.session.media_is_t38();
                i += 1;
            }
            Ok(Flow::Stop) => {
                let mut entry = calls.swap_remove(i);
                readiness.release(&mut entry);
                let _ = entry.done.send(Ok(entry.session));
            }
            Err(panic) => {
                // The session may be half-updated: it is dropped, never stepped again; the
                // report is the one from before the call ran, with the failure. Its socket
                // closes with it, which ends the watch.
                let entry = calls.swap_remove(i);
                let what = panic_text(&*panic);
                let mut report = entry.fallback;
                tracing::error!(call_id = %report.call_id, "call task panicked: {what}");
                entry.guard.bye();
                report.failure = Some(format!("internal error: the call task panicked ({what})"));
                drop(entry.session);
                let _ = entry.done.send(Err(report));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Debt;

    fn due(ticks: u64, skip: u64, events: bool) -> Option<Debt> {
        Some(Debt {
            ticks,
            skip,
            events,
        })
    }

    #[test]
    fn audio_steps_every_tick_and_t38_every_other_with_nothing_lost() {
        let mut audio = Debt::default();
        assert_eq!(audio.tick(0, false, 1), due(1, 0, false));
        assert_eq!(audio.tick(3, true, 1), due(1, 3, true));

        // (skip, events rung) per shard tick, and what a T.38 call runs on each.
        let table = [
            ((0, false), None),
            ((0, false), due(2, 0, false)),
            // A ring or dropped ticks on a tick sat out reach the next step.
            ((0, true), None),
            ((0, false), due(2, 0, true)),
            ((4, false), None),
            ((1, false), due(2, 5, false)),
        ];
        let mut t38 = Debt::default();
        for (i, ((skip, events), want)) in table.into_iter().enumerate() {
            assert_eq!(t38.tick(skip, events, 2), want, "shard tick {i}");
        }
    }

    #[test]
    fn a_call_leaving_t38_mid_pair_runs_the_tick_it_owes() {
        let mut debt = Debt::default();
        assert_eq!(debt.tick(0, false, 2), None);
        // Back on audio: the owed tick and this one, then one at a time.
        assert_eq!(debt.tick(0, false, 1), due(2, 0, false));
        assert_eq!(debt.tick(0, false, 1), due(1, 0, false));
    }
}
