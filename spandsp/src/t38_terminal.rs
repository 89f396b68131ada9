//! A T.38 fax terminal: T.30 carried as IFP packets (ITU-T T.38) instead of modem audio.

use std::os::raw::c_int;

use spandsp_sys as sys;

use crate::events::{FaxEvent, FaxResult};
use crate::shared::{install_t30_handlers, queue_ifp, stats_of, Shared};
use crate::t30::{self, T30Strings};
use crate::{Direction, Error, PageResult, Role, T30Config, T38Config};

/// One IFP packet to send, without UDPTL framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingIfp {
    /// The encoded IFP.
    pub data: Vec<u8>,
    /// How often SpanDSP wants it sent (3 for indicators and end-of-data, else 1); UDPTL
    /// redundancy may stand in for repeats.
    pub repeats: u8,
}

/// A fax terminal that sends or receives a document over T.38.
///
/// Call [`T38Terminal::advance`] every 20 ms with 160 samples (the terminal's clock; larger
/// steps break its pacing), feed received IFPs in sequence order with
/// [`T38Terminal::rx_ifp`], and send what [`T38Terminal::poll_ifp`] returns.
#[derive(Debug)]
pub struct T38Terminal {
    state: *mut sys::t38_terminal_state_t,
    t30: *mut sys::t30_state_t,
    core: *mut sys::t38_core_state_t,
    shared: Box<Shared>,
    _strings: T30Strings,
    terminated: bool,
    done: bool,
    skipped_samples: u64,
}

/// The most time one [`T38Terminal::advance`] feeds SpanDSP: one second.
pub const MAX_CATCH_UP_SAMPLES: usize = 8000;

// SAFETY: the SpanDSP state is only reachable through this wrapper, which owns it; SpanDSP
// keeps no thread-affine resources, so moving it between threads is fine. Not `Sync`:
// SpanDSP has no locking.
unsafe impl Send for T38Terminal {}

impl T38Terminal {
    /// Creates a terminal; a TIFF to send is checked first, so a bad file fails here.
    pub fn new(
        role: Role,
        direction: Direction,
        config: &T30Config,
        t38: &T38Config,
    ) -> Result<Self, Error> {
        t30::validate(config, &direction)?;
        t38.validate()?;
        crate::log::install();
        let sending = matches!(direction, Direction::Send { .. });
        let mut shared = Shared::new(sending);
        let user_data = shared.as_user_data();
        // SAFETY: t38_terminal_init(NULL, …) allocates a new state or returns NULL; the
        // handler matches the typedef and `user_data` (boxed) outlives the state.
        let state = unsafe {
            sys::t38_terminal_init(
                std::ptr::null_mut(),
                role.is_calling(),
                Some(queue_ifp),
                user_data,
            )
        };
        if state.is_null() {
            return Err(Error::InitFailed("T.38 terminal"));
        }
        // SAFETY: `state` is valid; these return pointers into it.
        let (t30, core) = unsafe {
            (
                sys::t38_terminal_get_t30_state(state),
                sys::t38_terminal_get_t38_core_state(state),
            )
        };
        let mut terminal = T38Terminal {
            state,
            t30,
            core,
            shared,
            _strings: T30Strings {
                log_tag: Default::default(),
            },
            terminated: false,
            done: false,
            skipped_samples: 0,
        };
        // SAFETY: all pointers are valid; `shared` stays boxed inside `terminal`.
        terminal._strings = unsafe {
            install_t30_handlers(t30, user_data);
            let strings = t30::apply(t30, config, &direction)?;
            // Paced transmission for UDPTL: SpanDSP's other modes break UDP calls (spandsp.md).
            sys::t38_terminal_set_config(state, 0);
            sys::t38_terminal_set_fill_bit_removal(state, c_int::from(t38.fill_bit_removal));
            apply_core(core, t38);
            for log in [
                sys::t38_terminal_get_logging_state(state),
                sys::t38_core_get_logging_state(core),
            ] {
                crate::log::configure(log, config.log_level, &strings.log_tag);
            }
            strings
        };
        Ok(terminal)
    }

    /// Advances time by `samples` (160 per 20 ms tick); returns true once the call is over.
    ///
    /// A larger step is fed in ticks (SpanDSP's pacing breaks on big steps, spandsp.md
    /// pitfall 4), but at most [`MAX_CATCH_UP_SAMPLES`]: the rest of a long stall is
    /// skipped and counted in [`skipped_samples`](Self::skipped_samples), so that a caller
    /// that woke late never makes SpanDSP replay minutes of paced transmission at once.
    pub fn advance(&mut self, samples: usize) -> bool {
        let fed = samples.min(MAX_CATCH_UP_SAMPLES);
        self.skipped_samples += (samples - fed) as u64;
        let mut left = fed;
        while left > 0 && !self.done {
            let step = left.min(crate::TICK_SAMPLES);
            left -= step;
            let len = c_int::try_from(step).unwrap_or(c_int::MAX);
            // SAFETY: `state` is valid.
            let done = unsafe { sys::t38_terminal_send_timeout(self.state, len) };
            self.shared.elapsed_samples += step as u64;
            self.done |= done != 0;
        }
        self.done
    }

    /// IFPs SpanDSP produced that were dropped because the caller had not polled the
    /// [`MAX_QUEUED_IFPS`](crate::MAX_QUEUED_IFPS) before them.
    pub fn dropped_ifps(&self) -> u64 {
        self.shared.ifps_dropped
    }

    /// Samples of a stall that [`advance`](Self::advance) skipped instead of feeding.
    pub fn skipped_samples(&self) -> u64 {
        self.skipped_samples
    }

    /// IFPs waiting for [`poll_ifp`](Self::poll_ifp).
    pub fn queued_ifps(&self) -> usize {
        self.shared.ifps.len()
    }

    /// Feeds one received IFP with its UDPTL sequence number (in ascending order).
    pub fn rx_ifp(&mut self, ifp: &[u8], seq: u16) -> Result<(), Error> {
        rx_ifp(self.core, ifp, seq)
    }

    /// The next IFP to send, if any.
    pub fn poll_ifp(&mut self) -> Option<OutgoingIfp> {
        self.shared.ifps.pop_front()
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

    /// Samples of time elapsed so far (8 kHz).
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

impl Drop for T38Terminal {
    fn drop(&mut self) {
        self.terminate();
        // SAFETY: `state` came from t38_terminal_init and is freed once, outside callbacks.
        unsafe { sys::t38_terminal_free(self.state) };
    }
}

/// Applies the negotiated T.38 parameters to a T.38 core.
///
/// # Safety
/// `core` must be a valid T.38 core state.
pub(crate) unsafe fn apply_core(core: *mut sys::t38_core_state_t, t38: &T38Config) {
    let clamp = |v: u32| c_int::try_from(v).unwrap_or(c_int::MAX);
    // SAFETY: the caller guarantees `core` is valid.
    unsafe {
        sys::t38_set_t38_version(core, c_int::from(t38.version));
        sys::t38_set_max_buffer_size(core, clamp(t38.max_buffer));
        sys::t38_set_max_datagram_size(core, clamp(t38.max_datagram));
        sys::t38_set_fill_bit_removal(core, c_int::from(t38.fill_bit_removal));
    }
}

/// Hands one received IFP to a T.38 core.
pub(crate) fn rx_ifp(core: *mut sys::t38_core_state_t, ifp: &[u8], seq: u16) -> Result<(), Error> {
    let len = c_int::try_from(ifp.len()).map_err(|_| Error::MalformedIfp(ifp.len()))?;
    // SAFETY: `core` is valid (owned by the caller's live state); SpanDSP only reads `len`
    // bytes of `ifp` and validates the packet itself, returning -1 when malformed.
    let rc = unsafe { sys::t38_core_rx_ifp_packet(core, ifp.as_ptr(), len, seq) };
    if rc < 0 {
        return Err(Error::MalformedIfp(ifp.len()));
    }
    Ok(())
}
