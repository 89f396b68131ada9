//! One scheduler tick of a call: the SIP events that came in since the last one, the
//! call's timers, then 20 ms of media.

use tokio::sync::mpsc::error::TryRecvError;

use super::*;

impl Session {
    /// Does everything due for this call now; `skip` media ticks were dropped before this
    /// one (the scheduler woke too late to run them). SIP events are taken only with
    /// `events` (the shard's doorbell rang, see `call::doorbell`).
    pub(super) fn step(&mut self, skip: u64, events: bool) -> Flow {
        // SpanDSP runs only inside this synchronous step: what it logs meanwhile on this
        // thread is this call's.
        let scope = self.t30_log.take().map(|c| c.enter(self.now_ms()));
        let flow = self.step_inside(skip, events);
        self.t30_log = scope.map(spandsp::log::Scope::exit);
        flow
    }

    fn step_inside(&mut self, skip: u64, events: bool) -> Flow {
        if events && self.take_events() == Flow::Stop {
            return Flow::Stop;
        }
        for wake in self.timers_due(events) {
            if self.on_wake(wake) == Flow::Stop {
                return Flow::Stop;
            }
        }
        let media_on = self.leg.is_some() && self.hangup_deadline.is_none();
        match self.clock.as_mut() {
            Some(clock) if media_on => {
                let at = clock.advance(skip);
                self.on_wake(Wake::Tick(at))
            }
            _ => Flow::Go,
        }
    }

    /// Handles every SIP event that has come in.
    fn take_events(&mut self) -> Flow {
        loop {
            let wake = match self.handle.events.try_recv() {
                Ok(event) => Wake::Event(Some(event)),
                Err(TryRecvError::Empty) => return Flow::Go,
                Err(TryRecvError::Disconnected) => Wake::Event(None),
            };
            if self.on_wake(wake) == Flow::Stop {
                return Flow::Stop;
            }
        }
    }

    /// The call's timers that have expired, in the order the call task used to see them.
    /// The cancel signal is read with the events only (`with_cancel`: a doorbell ring or the
    /// shard's sweep, at least once a second): reading it is a cache miss per call, and a
    /// cancel can wait a second.
    fn timers_due(&self, with_cancel: bool) -> Vec<Wake> {
        let now = TokioInstant::now();
        let due = |at: Option<TokioInstant>| at.is_some_and(|at| at <= now);
        let mut wakes = Vec::new();
        if due(self.answer_at) {
            wakes.push(Wake::Answer);
        }
        if due(self.ring_deadline) {
            wakes.push(Wake::RingTimeout);
        }
        if due(self.hangup_deadline) {
            wakes.push(Wake::HangupTimeout);
        }
        if with_cancel && self.cancel.as_ref().is_some_and(|rx| *rx.borrow()) {
            wakes.push(Wake::Cancelled);
        }
        wakes
    }

    /// Whether the media now is T.38.
    pub(super) fn media_is_t38(&self) -> bool {
        self.leg.as_ref().is_some_and(Leg::is_t38)
    }

    /// The call's media socket wherever it is now: its own before media starts, then the
    /// leg's (a switch between audio and T.38 keeps the same socket).
    pub(super) fn media_socket_mut(&mut self) -> Option<&mut MediaSocket> {
        match &mut self.leg {
            Some(leg) => Some(leg.stream.socket_mut()),
            None => self.socket.as_mut(),
        }
    }
}
