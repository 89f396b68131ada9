//! An audio fax terminal: T.30 over the V.21/V.27ter/V.29/V.17 modems (SpanDSP `fax_state_t`).

use std::os::raw::c_int;

use spandsp_sys as sys;

use crate::audio_port::{self, AudioPort};

use crate::events::{FaxEvent, FaxResult};
use crate::shared::{install_t30_handlers, stats_of, Shared};
use crate::t30::{self, T30Strings};
use crate::{Direction, Error, PageResult, Role, T30Config};

/// A fax terminal that sends or receives a document over 8 kHz linear audio.
///
/// Step it every 20 ms with [`FaxTerminal::rx`] (or [`FaxTerminal::rx_fillin`] for lost
/// audio) and [`FaxTerminal::tx`], whether or not audio arrived: receiving is what advances
/// the T.30 timers, and transmitting is what moves its send state machine.
#[derive(Debug)]
pub struct FaxTerminal {
    state: *mut sys::fax_state_t,
    t30: *mut sys::t30_state_t,
    shared: Box<Shared>,
    _strings: T30Strings,
    terminated: bool,
    audio: AudioPort,
    /// Frames of digital silence heard in a row.
    silent_run: u32,
    /// Frames of silence handed to SpanDSP as fill-in instead of demodulated.
    silence_skipped: u64,
}

/// Frames of silence demodulated before further silence is handed over as fill-in: 100 ms,
/// many times what the modems' carrier detectors need to see a signal end.
const SILENT_FRAMES_DEMODULATED: u32 = 5;

/// The largest sample counted as digital silence: an idle G.711 channel (µ-law 0xFF decodes
/// to 0, A-law 0xD5 to 8), some 30 dB below any modem's carrier-on threshold.
const SILENCE_MAX: i16 = 16;

/// Whether `audio` is an idle channel.
fn is_silent(audio: &[i16]) -> bool {
    audio.iter().all(|s| s.unsigned_abs() <= SILENCE_MAX as u16)
}

// SAFETY: the SpanDSP state is only reachable through this wrapper, which owns it; SpanDSP
// keeps no thread-affine resources (no TLS, no locks), so moving it between threads is fine.
// It is not `Sync`: SpanDSP has no locking, and `&self` methods would race on it.
unsafe impl Send for FaxTerminal {}

impl FaxTerminal {
    /// Creates a terminal; a TIFF to send is checked first, so a bad file fails here.
    pub fn new(role: Role, direction: Direction, config: &T30Config) -> Result<Self, Error> {
        t30::validate(config, &direction)?;
        crate::log::install();
        let sending = matches!(direction, Direction::Send { .. });
        // SAFETY: fax_init(NULL, …) allocates a new state or returns NULL.
        let state = unsafe { sys::fax_init(std::ptr::null_mut(), role.is_calling()) };
        if state.is_null() {
            return Err(Error::InitFailed("audio fax terminal"));
        }
        // SAFETY: `state` is valid; the T.30 engine lives inside it.
        let t30 = unsafe { sys::fax_get_t30_state(state) };
        let mut terminal = FaxTerminal {
            state,
            t30,
            shared: Shared::new(sending),
            _strings: T30Strings {
                log_tag: Default::default(),
            },
            terminated: false,
            audio: AudioPort::new(),
            silent_run: 0,
            silence_skipped: 0,
        };
        let user_data = terminal.shared.as_user_data();
        // SAFETY: `t30` is valid; `shared` is boxed, so moving `terminal` does not move it and
        // `user_data` stays valid until the state is freed in `Drop`.
        terminal._strings = unsafe {
            install_t30_handlers(t30, user_data);
            let strings = t30::apply(t30, config, &direction)?;
            let log = sys::fax_get_logging_state(state);
            crate::log::configure(log, config.log_level, &strings.log_tag);
            strings
        };
        Ok(terminal)
    }

    /// Feeds received audio; advances T.30 time by `audio.len()` samples.
    ///
    /// Once the channel has been silent for [`SILENT_FRAMES_DEMODULATED`] frames, further
    /// silence is handed to SpanDSP as fill-in: T.30's timers run on, and the demodulators,
    /// which have long seen the carrier go, are not run over nothing. A sending fax machine
    /// hears silence for most of a call, and demodulating it (V.21 above all) was a sixth of
    /// a G.711 sender's CPU in the profile.
    pub fn rx(&mut self, audio: &[i16]) {
        if is_silent(audio) {
            self.silent_run = self.silent_run.saturating_add(1);
        } else {
            self.silent_run = 0;
        }
        if self.silent_run > SILENT_FRAMES_DEMODULATED {
            self.silence_skipped += 1;
            self.rx_fillin(audio.len());
            return;
        }
        // SAFETY: `state` is valid until `Drop`, and `fax_rx` is its receive call.
        unsafe { self.audio.rx(self.state, sys::fax_rx, audio) };
        self.shared.elapsed_samples += audio.len() as u64;
    }

    /// Frames of silence [`FaxTerminal::rx`] handed over as fill-in instead of demodulating.
    pub fn silence_skipped(&self) -> u64 {
        self.silence_skipped
    }

    /// Stands in for `samples` of lost audio; advances T.30 time like [`FaxTerminal::rx`].
    pub fn rx_fillin(&mut self, samples: usize) {
        let len = c_int::try_from(samples).unwrap_or(c_int::MAX);
        // SAFETY: `state` is valid.
        unsafe { sys::fax_rx_fillin(self.state, len) };
        self.shared.elapsed_samples += samples as u64;
    }

    /// Stands in for `samples` of lost audio by playing the last 20 ms received again.
    ///
    /// Measured over G.711 with 1 % random packet loss (2-page ECM fax, 60 seeded runs):
    /// repeating completed 24 calls, SpanDSP's own fill-in 9, and silence none. A repeated
    /// frame keeps the demodulators' carrier present, so a damaged frame fails its CRC and
    /// T.30 retries, where silence or coasting loses the carrier and the state machines part.
    pub fn rx_lost(&mut self, samples: usize) {
        // SAFETY: `state` is valid until `Drop`, and `fax_rx` is its receive call.
        unsafe { self.audio.rx_lost(self.state, sys::fax_rx, samples) };
        self.shared.elapsed_samples += samples as u64;
    }

    /// Fills `out` with audio to send, padding with silence; returns the samples generated.
    pub fn tx(&mut self, out: &mut [i16]) -> usize {
        // SAFETY: `state` is valid until `Drop`, and `fax_tx` is its transmit call.
        unsafe { audio_port::tx(self.state, sys::fax_tx, out) }
    }

    /// The next event (negotiation, page, end of call), if any.
    pub fn poll_event(&mut self) -> Option<FaxEvent> {
        self.shared.events.pop_front()
    }

    /// The final result once the session has ended.
    pub fn result(&self) -> Option<&FaxResult> {
        self.shared.result.as_ref()
    }

    /// True once phase E has run.
    pub fn is_finished(&self) -> bool {
        self.shared.result.is_some()
    }

    /// Current statistics (pages so far, rate, ECM, resolution).
    pub fn stats(&self) -> PageResult {
        // SAFETY: `t30` is valid while the state lives.
        unsafe { stats_of(self.t30, self.shared.sending) }
    }

    /// Samples fed so far (8 kHz).
    pub fn elapsed_samples(&self) -> u64 {
        self.shared.elapsed_samples
    }

    /// Ends the session now (hangup, BYE): phase E runs, with code 49 if T.30 had not finished.
    pub fn terminate(&mut self) {
        if !self.terminated {
            self.terminated = true;
            // SAFETY: `t30` is valid, and this is not called from inside a SpanDSP callback.
            unsafe { sys::t30_terminate(self.t30) };
        }
    }
}

impl Drop for FaxTerminal {
    fn drop(&mut self) {
        // Terminate first so the TIFF is closed through T.30's normal path and phase E runs.
        self.terminate();
        // SAFETY: `state` came from fax_init and is freed exactly once, outside any callback.
        unsafe { sys::fax_free(self.state) };
    }
}
