//! State the C callbacks write into: boxed so its address stays fixed while SpanDSP holds it.
//!
//! Callbacks run synchronously inside the SpanDSP call that triggered them, on the thread that
//! owns the wrapper, so they only append to queues here; the wrapper drains them afterwards.
//! A panic cannot unwind out of these `extern "C"` functions: Rust aborts instead.

use std::collections::VecDeque;
use std::os::raw::{c_int, c_void};

use spandsp_sys as sys;

use crate::events::{FaxEvent, FaxResult, PageResult};
use crate::ffi_util::owned_string;
use crate::t38_terminal::OutgoingIfp;

/// The most IFPs held for the caller between two polls. A caller that polls every tick
/// never holds more than a few; a starved one that lets SpanDSP run on must not turn the
/// backlog into unbounded memory, and IFPs that old are useless to the far end anyway.
pub const MAX_QUEUED_IFPS: usize = 256;

/// Per-session state shared with SpanDSP's callbacks through `user_data`.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub sending: bool,
    pub events: VecDeque<FaxEvent>,
    pub ifps: VecDeque<OutgoingIfp>,
    /// IFPs refused because [`MAX_QUEUED_IFPS`] were already waiting.
    pub ifps_dropped: u64,
    pub negotiations: u32,
    pub elapsed_samples: u64,
    pub result: Option<FaxResult>,
}

impl Shared {
    pub fn new(sending: bool) -> Box<Shared> {
        Box::new(Shared {
            sending,
            ..Shared::default()
        })
    }

    /// The pointer handed to SpanDSP as `user_data`.
    pub fn as_user_data(self: &mut Box<Self>) -> *mut c_void {
        let ptr: *mut Shared = &mut **self;
        ptr.cast()
    }
}

/// Reads the current statistics of a T.30 engine.
///
/// # Safety
/// `t30` must be a valid T.30 state.
pub(crate) unsafe fn stats_of(t30: *mut sys::t30_state_t, sending: bool) -> PageResult {
    let mut stats = sys::t30_stats_t::default();
    // SAFETY: the caller guarantees `t30` is valid; `stats` is a properly sized out-struct.
    unsafe { sys::t30_get_transfer_statistics(t30, &mut stats) };
    PageResult::from_stats(&stats, sending)
}

/// Installs the phase B, D and E handlers of a T.30 engine.
///
/// # Safety
/// `t30` must be valid, and `shared` must stay at its address until the engine is freed.
pub(crate) unsafe fn install_t30_handlers(t30: *mut sys::t30_state_t, shared: *mut c_void) {
    // SAFETY: the handlers match SpanDSP 0.0.6's typedefs; the caller guarantees `shared`
    // outlives the engine.
    unsafe {
        sys::t30_set_phase_b_handler(t30, Some(phase_b), shared);
        sys::t30_set_phase_d_handler(t30, Some(phase_d), shared);
        sys::t30_set_phase_e_handler(t30, Some(phase_e), shared);
    }
}

/// # Safety
/// `user_data` must be the `Shared` installed by `install_t30_handlers`.
unsafe fn shared_of<'a>(user_data: *mut c_void) -> &'a mut Shared {
    // SAFETY: guaranteed by the caller; SpanDSP passes back the pointer we gave it, and no
    // other reference to `Shared` is live while SpanDSP runs a callback.
    unsafe { &mut *user_data.cast::<Shared>() }
}

unsafe extern "C" fn phase_b(
    s: *mut sys::t30_state_t,
    user_data: *mut c_void,
    fcf: c_int,
) -> c_int {
    // SAFETY: SpanDSP passes our user_data and its own valid state.
    let shared = unsafe { shared_of(user_data) };
    shared.negotiations += 1;
    // SAFETY: `s` is valid during the callback; t30_frametype returns a static string.
    let (frame, remote_ident, stats) = unsafe {
        (
            owned_string(sys::t30_frametype(fcf as u8)),
            owned_string(sys::t30_get_rx_ident(s)),
            stats_of(s, shared.sending),
        )
    };
    shared.events.push_back(FaxEvent::Negotiated {
        frame,
        remote_ident,
        bit_rate: stats.bit_rate,
        ecm: stats.ecm,
    });
    sys::T30_ERR_OK as c_int
}

unsafe extern "C" fn phase_d(
    s: *mut sys::t30_state_t,
    user_data: *mut c_void,
    _fcf: c_int,
) -> c_int {
    // SAFETY: SpanDSP passes our user_data and its own valid state.
    let shared = unsafe { shared_of(user_data) };
    // SAFETY: `s` is valid during the callback.
    let stats = unsafe { stats_of(s, shared.sending) };
    shared.events.push_back(FaxEvent::Page(stats));
    sys::T30_ERR_OK as c_int
}

unsafe extern "C" fn phase_e(s: *mut sys::t30_state_t, user_data: *mut c_void, code: c_int) {
    // SAFETY: SpanDSP passes our user_data and its own valid state.
    let shared = unsafe { shared_of(user_data) };
    // SAFETY: `s` is valid during the callback.
    let (stats, remote_ident) = unsafe {
        (
            stats_of(s, shared.sending),
            owned_string(sys::t30_get_rx_ident(s)),
        )
    };
    let result = FaxResult {
        code: crate::CompletionCode(code),
        stats,
        remote_ident,
        negotiations: shared.negotiations,
        elapsed_samples: shared.elapsed_samples,
    };
    shared.result = Some(result.clone());
    shared.events.push_back(FaxEvent::Finished(result));
}

/// The T.38 transmit handler: queues each IFP with its repeat count.
pub(crate) unsafe extern "C" fn queue_ifp(
    _core: *mut sys::t38_core_state_t,
    user_data: *mut c_void,
    buf: *const u8,
    len: c_int,
    count: c_int,
) -> c_int {
    let Ok(len) = usize::try_from(len) else {
        return -1;
    };
    if buf.is_null() && len > 0 {
        return -1;
    }
    // SAFETY: SpanDSP passes our user_data (a `Shared`, see T38Terminal/T38Gateway::new).
    let shared = unsafe { shared_of(user_data) };
    if shared.ifps.len() >= MAX_QUEUED_IFPS {
        // Reported as sent: a failure here would make SpanDSP abort the call, while a lost
        // IFP is something T.38 already survives (UDPTL loss).
        shared.ifps_dropped += 1;
        return 0;
    }
    let data = if len == 0 {
        Vec::new()
    } else {
        // SAFETY: SpanDSP guarantees `buf` holds `len` bytes during the callback.
        unsafe { std::slice::from_raw_parts(buf, len) }.to_vec()
    };
    shared.ifps.push_back(OutgoingIfp {
        data,
        repeats: u8::try_from(count.max(1)).unwrap_or(1),
    });
    0
}
