//! Audio in and out of the SpanDSP objects that take 8 kHz linear audio: the audio fax
//! terminal and the T.38 gateway, whose receive and transmit calls behave alike.

use std::os::raw::c_int;

use crate::TICK_SAMPLES;

/// A SpanDSP receive call (`fax_rx`, `t38_gateway_rx`); it modifies its input in place.
pub(crate) type RxFn<S> = unsafe extern "C" fn(*mut S, *mut i16, c_int) -> c_int;

/// A SpanDSP transmit call (`fax_tx`, `t38_gateway_tx`); it returns the samples it made.
pub(crate) type TxFn<S> = unsafe extern "C" fn(*mut S, *mut i16, c_int) -> c_int;

/// The receive side's memory: the last 20 ms heard, replayed when audio is lost.
#[derive(Debug)]
pub(crate) struct AudioPort {
    last_rx: [i16; TICK_SAMPLES],
}

impl AudioPort {
    pub(crate) fn new() -> Self {
        AudioPort {
            last_rx: [0; TICK_SAMPLES],
        }
    }

    /// Feeds `audio` to `rx` in chunks of at most one tick.
    ///
    /// # Safety
    /// `state` must be a valid object for `rx`.
    pub(crate) unsafe fn rx<S>(&mut self, state: *mut S, rx: RxFn<S>, audio: &[i16]) {
        // SpanDSP modifies its input in place (DC restore), so it gets a copy; the copy lives
        // on the stack because a per-instance heap buffer is cold by the next tick when a
        // server steps hundreds of channels in turn.
        let mut scratch = [0i16; TICK_SAMPLES];
        for chunk in audio.chunks(TICK_SAMPLES) {
            let buf = &mut scratch[..chunk.len()];
            buf.copy_from_slice(chunk);
            // SAFETY: `state` is valid (caller); `buf` holds `buf.len()` ≤ 160 samples.
            unsafe { rx(state, buf.as_mut_ptr(), buf.len() as c_int) };
        }
        if let Some(tail) = audio.len().checked_sub(TICK_SAMPLES) {
            self.last_rx.copy_from_slice(&audio[tail..]);
        }
    }

    /// Stands in for `samples` of lost audio by feeding the last 20 ms heard again.
    ///
    /// # Safety
    /// `state` must be a valid object for `rx`.
    pub(crate) unsafe fn rx_lost<S>(&mut self, state: *mut S, rx: RxFn<S>, samples: usize) {
        let last = self.last_rx;
        let mut remaining = samples;
        while remaining > 0 {
            let n = remaining.min(TICK_SAMPLES);
            // SAFETY: forwarded from the caller.
            unsafe { self.rx(state, rx, &last[TICK_SAMPLES - n..]) };
            remaining -= n;
        }
        self.last_rx = last;
    }
}

/// Fills `out` from `tx`, padding with silence; returns the samples SpanDSP generated.
///
/// # Safety
/// `state` must be a valid object for `tx`.
pub(crate) unsafe fn tx<S>(state: *mut S, tx: TxFn<S>, out: &mut [i16]) -> usize {
    let len = c_int::try_from(out.len()).unwrap_or(c_int::MAX);
    // SAFETY: `state` is valid (caller); `out` holds `len` writable samples.
    let produced = unsafe { tx(state, out.as_mut_ptr(), len) };
    let produced = usize::try_from(produced).unwrap_or(0).min(out.len());
    out[produced..].fill(0);
    produced
}
