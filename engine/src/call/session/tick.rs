//! The media side of a call: starting and switching the leg, each tick, fax events, the
//! dead-T.38 check and the timers that make every call end.

use super::*;
use crate::call::clock::GIVE_UP_SKIPPED;

impl Session {
    pub(super) fn start_media(&mut self, agreed: &Agreed) -> Result<(), CallError> {
        match agreed {
            Agreed::Audio(session) => self.start_audio(session, true),
            Agreed::T38(_) => {
                if self.report.t38.is_empty() {
                    // T.38 in the first INVITE's answer: ours or theirs.
                    let by = if self.role == Role::Calling {
                        Party::Local
                    } else {
                        Party::Remote
                    };
                    self.t38_step(T38Step::Offered { by });
                }
                // `switch` credits the far end with accepting when our offer is pending.
                if self.role == Role::Calling {
                    self.reinvite_pending = Some(true);
                }
                self.switch(agreed)
            }
        }
    }

    pub(super) fn ensure_clock(&mut self) {
        if self.clock.is_none() {
            self.clock = Some(MediaClock::driven(self.settings.speed));
        }
    }

    pub(super) fn take_socket(&mut self) -> Result<MediaSocket, CallError> {
        // The old terminal's last events (a page just confirmed) still count; then it goes.
        self.collect_events();
        if let Some(leg) = self.leg.take() {
            self.report.media_counters.add(leg.media_counters());
            return Ok(leg.into_socket());
        }
        self.socket
            .take()
            .ok_or(CallError::Setup("media socket lost"))
    }

    /// Audio towards `session`; with `fax`, T.30 starts on it.
    pub(super) fn start_audio(
        &mut self,
        session: &AudioSession,
        fax: bool,
    ) -> Result<(), CallError> {
        self.ensure_clock();
        let socket = self.take_socket()?;
        let mut leg = Leg::audio(socket, session, &self.settings, self.seed)?;
        if fax {
            leg.start_audio_terminal(self.role, self.direction.clone(), &self.t30)?;
            self.last_progress_ms = self.now_ms();
            // Hearing CNG or CED proves a fax machine is there (for the outcome), and is
            // the moment to ask for T.38 under the `Tone` trigger.
            if !self.report.fax_seen {
                leg.detect_tones()?;
            }
        }
        let name = audio_name(session.codec);
        self.enter_phase(&name);
        self.leg = Some(leg);
        Ok(())
    }

    pub(super) fn enter_phase(&mut self, media: &str) {
        if self.report.media.last().is_some_and(|p| p.media == media) {
            return;
        }
        self.report.media.push(MediaPhase {
            media: media.to_owned(),
            from_ms: self.now_ms(),
        });
        self.tell(Progress::Media(media.to_owned()));
    }

    /// The media changed (re-INVITE either way): move the port to the new stream and restart
    /// T.30 on it.
    pub(super) fn switch(&mut self, agreed: &Agreed) -> Result<(), CallError> {
        let was_t38 = self.leg.as_ref().is_some_and(Leg::is_t38);
        match agreed {
            Agreed::T38(session) => {
                let by = if self.reinvite_pending.take() == Some(true) {
                    Party::Remote
                } else {
                    Party::Local
                };
                if was_t38 {
                    return Ok(());
                }
                self.ensure_clock();
                let socket = self.take_socket()?;
                let before = socket.stats();
                let leg = Leg::t38(
                    socket,
                    session,
                    &self.settings,
                    (self.role, self.direction.clone(), &self.t30),
                )?;
                self.t38_since = Some((self.now_ms(), before));
                self.last_progress_ms = self.now_ms();
                self.t38_step(T38Step::Accepted { by });
                self.enter_phase(&leg.media.clone());
                self.leg = Some(leg);
            }
            Agreed::Audio(session) => {
                self.reinvite_pending = None;
                if !was_t38 {
                    return Ok(());
                }
                self.t38_step(T38Step::BackToAudio);
                self.t38_since = None;
                self.start_audio(session, true)?;
            }
        }
        Ok(())
    }

    pub(super) fn request_t38(&mut self) {
        if self.t38_asked || self.reinvite_pending.is_some() {
            return;
        }
        if self.leg.as_ref().is_some_and(Leg::is_t38) {
            return;
        }
        self.t38_asked = true;
        self.reinvite_pending = Some(true);
        self.handle.reinvite(OfferMedia::T38);
        self.t38_step(T38Step::Offered { by: Party::Local });
    }

    pub(super) fn on_tick(&mut self, now: std::time::Instant) -> Flow {
        if self.fell_behind() {
            return Flow::Go;
        }
        if self
            .opts
            .test_panic_at_ms
            .is_some_and(|at| self.now_ms() >= at)
        {
            panic!("test hook: panic at {} ms of media", self.now_ms());
        }
        let mut tones = std::mem::take(&mut self.tones);
        if let Some(leg) = &mut self.leg {
            if let Err(e) = leg.tick(now, &mut tones) {
                tracing::debug!("media tick: {e}");
            }
        }
        let fax_tone = tones.drain(..).any(|t| {
            matches!(
                t,
                ToneEvent::Cng
                    | ToneEvent::Ans
                    | ToneEvent::AnsPhaseReversed
                    | ToneEvent::V21Preamble
            )
        });
        self.tones = tones;
        if fax_tone {
            self.report.fax_seen = true;
            self.maybe_request_on_tone();
        }
        self.collect_events();
        self.check_dead_t38();
        self.check_timers();
        Flow::Go
    }

    /// A call whose task was starved so long that catching up is hopeless is failed, so its
    /// work stops competing with the calls that can still succeed.
    fn fell_behind(&mut self) -> bool {
        let Some(skipped) = self.clock.as_ref().map(MediaClock::skipped) else {
            return false;
        };
        if skipped <= GIVE_UP_SKIPPED {
            return false;
        }
        self.fail(&format!(
            "server overloaded: the call fell {} ms behind real time",
            skipped.as_millis()
        ));
        self.stop_fax();
        self.hang_up();
        true
    }

    pub(super) fn maybe_request_on_tone(&mut self) {
        if self.opts.t38 == T38Mode::Request && self.opts.t38_trigger == T38Trigger::Tone {
            self.request_t38();
        }
    }

    pub(super) fn collect_events(&mut self) {
        let Some(leg) = &mut self.leg else { return };
        let mut events = Vec::new();
        if let Some(t) = &mut leg.terminal {
            while let Some(ev) = t.poll_event() {
                events.push(ev);
            }
        }
        // Most ticks have no event: the media name is copied only when one needs it.
        if events.is_empty() {
            return;
        }
        let media = leg.media.clone();
        for ev in events {
            self.on_fax_event(ev, &media);
        }
    }

    pub(super) fn on_fax_event(&mut self, ev: FaxEvent, media: &str) {
        let now = self.now_ms();
        match ev {
            FaxEvent::Negotiated {
                bit_rate,
                ecm,
                remote_ident,
                ..
            } => {
                self.last_progress_ms = now;
                let first = !self.report.fax_seen;
                self.report.fax_seen = true;
                self.tell(Progress::Negotiated {
                    bit_rate,
                    ecm,
                    remote_ident,
                });
                if first && !self.leg.as_ref().is_some_and(Leg::is_t38) {
                    self.maybe_request_on_tone();
                }
            }
            FaxEvent::Page(page) => {
                self.last_progress_ms = now;
                self.report.fax_seen = true;
                let report = PageReport::new(&page, media, now);
                self.tell(Progress::Page(report.clone()));
                self.report.pages.push(report);
            }
            FaxEvent::Finished(result) => {
                self.report.fax = Some(FaxSummary::new(&result));
                self.t30_done_ms.get_or_insert(now);
            }
        }
    }

    pub(super) fn check_dead_t38(&mut self) {
        let Some((since, before)) = self.t38_since else {
            return;
        };
        let Some(leg) = &self.leg else { return };
        // The socket's counters carry the audio leg's RTP: only what came since T.38
        // started says anything about UDPTL.
        let stats = leg.socket_stats();
        if leg.is_t38() && stats.received > before.received {
            self.t38_since = None;
            return;
        }
        let waited = Duration::from_millis(self.now_ms().saturating_sub(since));
        let others = (stats.unfit + stats.foreign).saturating_sub(before.unfit + before.foreign);
        if waited < self.opts.t38_media_timeout || others == 0 {
            return;
        }
        self.t38_since = None;
        self.t38_step(T38Step::NoMedia);
        if self.opts.dead_t38 == DeadT38::FallBackToAudio && !self.fell_back {
            self.fell_back = true;
            self.reinvite_pending = Some(false);
            self.handle.reinvite(OfferMedia::Audio);
        } else {
            self.fail("no T.38 media");
            self.hang_up();
        }
    }

    pub(super) fn check_timers(&mut self) {
        let now = self.now_ms();
        if let Some(done) = self.t30_done_ms {
            if now.saturating_sub(done) >= self.opts.hangup_linger.as_millis() as u64 {
                self.hang_up();
            }
            return;
        }
        let idle = now.saturating_sub(self.last_progress_ms);
        if idle >= self.opts.idle_timeout.as_millis() as u64 {
            self.fail(&format!(
                "no fax progress for {} s{}",
                idle / 1000,
                if self.report.fax_seen {
                    ""
                } else {
                    " (no fax answered)"
                }
            ));
            self.stop_fax();
            self.hang_up();
            return;
        }
        // The cap is at least the base plus one page; below that, SpanDSP's page count
        // (read through a statistics call) cannot matter, and this runs every tick.
        let floor = (self.opts.max_duration + self.opts.per_page).as_millis() as u64;
        if now >= floor && now >= self.cap_ms() {
            self.fail(&format!(
                "call exceeded its time limit of {} s",
                self.cap_ms() / 1000
            ));
            self.stop_fax();
            self.hang_up();
        }
    }

    /// The longest a call may run: the base cap plus time per page, counting the pages of
    /// the document (sending) or the pages received so far plus one (receiving).
    pub(super) fn cap_ms(&self) -> u64 {
        let pages = match &self.leg.as_ref().and_then(|l| l.terminal.as_ref()) {
            Some(t) => {
                let s = t.stats();
                u64::from(s.pages_total.max(s.pages_transferred + 1))
            }
            None => 1,
        };
        (self.opts.max_duration + self.opts.per_page * pages as u32).as_millis() as u64
    }

    pub(super) fn stop_fax(&mut self) {
        if let Some(t) = self.leg.as_mut().and_then(|l| l.terminal.as_mut()) {
            t.terminate();
        }
        self.collect_events();
    }
}
