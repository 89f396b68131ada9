//! Routes SpanDSP's and libtiff's messages to `tracing`, and to the [`Capture`] of the call
//! whose SpanDSP work runs on this thread.
//!
//! SpanDSP 0.0.6's message handler has no user-data argument and is copied into each state
//! object when it is created, so the global handler is installed once, before the first object.
//! Which call a message belongs to is therefore known only from the thread it is logged on:
//! a call wraps its synchronous SpanDSP work in a [`Scope`], and many calls can share one
//! worker thread because each scope ends before the thread moves on to another call.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::Once;

use spandsp_sys as sys;

use crate::LogLevel;

static INSTALL: Once = Once::new();

thread_local! {
    /// The capture of the call whose SpanDSP work runs on this thread right now.
    static CURRENT: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// One captured SpanDSP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedLine {
    /// The time the capturing scope was entered with (the call's media ms).
    pub at_ms: u64,
    /// SpanDSP's severity name (`error`, `protocol-error`, `flow`, …).
    pub level: &'static str,
    /// The message, with SpanDSP's tag and protocol prefix.
    pub text: String,
}

/// A per-call buffer of SpanDSP's messages, filled while a [`Scope`] of it is entered.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    lines: Vec<CapturedLine>,
    limit: usize,
    truncated: bool,
    at_ms: u64,
}

impl Capture {
    /// An empty capture keeping at most `limit` lines.
    pub fn new(limit: usize) -> Self {
        Capture {
            limit,
            ..Capture::default()
        }
    }

    /// The lines so far, in order.
    pub fn lines(&self) -> &[CapturedLine] {
        &self.lines
    }

    /// True when lines were dropped because the limit was reached.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The lines, and whether some were dropped.
    pub fn into_lines(self) -> (Vec<CapturedLine>, bool) {
        (self.lines, self.truncated)
    }

    /// Routes this thread's SpanDSP messages into `self` until the scope ends; lines are
    /// stamped with `at_ms`.
    pub fn enter(mut self, at_ms: u64) -> Scope {
        self.at_ms = at_ms;
        let previous = CURRENT.with(|c| c.replace(Some(self)));
        Scope { previous }
    }

    fn push(&mut self, level: c_int, text: &str) {
        // The T.38 core's flow lines are one per IFP: the pcap shows those, and they would
        // crowd the T.30 frames out of the limit.
        let severity = level & sys::SPAN_LOG_SEVERITY_MASK as c_int;
        if severity >= sys::SPAN_LOG_FLOW as c_int && text.starts_with("T.38 ") {
            return;
        }
        if self.lines.len() >= self.limit {
            self.truncated = true;
            return;
        }
        self.lines.push(CapturedLine {
            at_ms: self.at_ms,
            level: level_name(level),
            text: text.to_owned(),
        });
    }
}

/// While alive, this thread's SpanDSP messages go to one [`Capture`]; dropping it without
/// [`Scope::exit`] (a panic) discards that capture and restores the previous one.
#[derive(Debug)]
#[must_use = "the capture ends when the scope is dropped"]
pub struct Scope {
    previous: Option<Capture>,
}

impl Scope {
    /// Ends the scope and gives the capture back.
    pub fn exit(mut self) -> Capture {
        let previous = self.previous.take();
        let mine = CURRENT.with(|c| c.replace(previous));
        std::mem::forget(self);
        mine.unwrap_or_default()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: during thread teardown the slot may be gone already.
        let _ = CURRENT.try_with(|c| c.replace(previous));
    }
}

fn capture(level: c_int, text: &str) {
    let _ = CURRENT.try_with(|c| {
        // A message logged while the capture is borrowed (never expected) is not captured.
        if let Ok(mut slot) = c.try_borrow_mut() {
            if let Some(cap) = slot.as_mut() {
                cap.push(level, text);
            }
        }
    });
}

fn level_name(level: c_int) -> &'static str {
    match level & sys::SPAN_LOG_SEVERITY_MASK as c_int {
        l if l <= sys::SPAN_LOG_ERROR as c_int => "error",
        l if l <= sys::SPAN_LOG_WARNING as c_int => "warning",
        l if l <= sys::SPAN_LOG_PROTOCOL_ERROR as c_int => "protocol-error",
        l if l <= sys::SPAN_LOG_PROTOCOL_WARNING as c_int => "protocol-warning",
        l if l <= sys::SPAN_LOG_FLOW as c_int => "flow",
        l if l <= sys::SPAN_LOG_FLOW_3 as c_int => "flow-detail",
        _ => "debug",
    }
}

/// Installs the global SpanDSP and libtiff handlers; cheap after the first call.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: the handlers are `extern "C"` functions with the exact signatures SpanDSP
        // and the shim expect; they live for the whole program. Setting them happens once,
        // before any state object exists, which is what SpanDSP's unsynchronised globals need.
        unsafe {
            sys::span_set_message_handler(Some(span_message));
            sys::span_set_error_handler(Some(span_error));
            sys::faxsrv_set_tiff_message_handler(Some(tiff_message));
        }
    });
}

/// Applies a level and a tag to one SpanDSP logging state.
///
/// # Safety
/// `state` must be a valid logging state, and `tag` must outlive the object owning it
/// (SpanDSP stores the pointer without copying it).
pub(crate) unsafe fn configure(state: *mut sys::logging_state_t, level: LogLevel, tag: &CString) {
    if state.is_null() {
        return;
    }
    // SAFETY: the caller guarantees `state` is valid and `tag` outlives it.
    unsafe {
        sys::span_log_set_level(state, level.to_span());
        sys::span_log_set_tag(state, tag.as_ptr());
    }
}

fn text_of(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: SpanDSP and the shim pass a NUL-terminated buffer valid during the callback.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .trim_end()
        .to_owned()
}

extern "C" fn span_message(level: c_int, text: *const c_char) {
    let text = text_of(text);
    capture(level, &text);
    match level & sys::SPAN_LOG_SEVERITY_MASK as c_int {
        l if l <= sys::SPAN_LOG_ERROR as c_int => tracing::error!(target: "spandsp", "{text}"),
        l if l <= sys::SPAN_LOG_PROTOCOL_ERROR as c_int => {
            tracing::warn!(target: "spandsp", "{text}")
        }
        // Protocol warnings come with ordinary, successful calls (e.g. "ECM carrier not
        // found" as the line goes quiet at the end), so they are not operator warnings.
        l if l <= sys::SPAN_LOG_PROTOCOL_WARNING as c_int => {
            tracing::info!(target: "spandsp", "{text}")
        }
        l if l <= sys::SPAN_LOG_FLOW_3 as c_int => tracing::debug!(target: "spandsp", "{text}"),
        _ => tracing::trace!(target: "spandsp", "{text}"),
    }
}

extern "C" fn span_error(text: *const c_char) {
    let text = text_of(text);
    capture(sys::SPAN_LOG_ERROR as c_int, &text);
    tracing::error!(target: "spandsp", "{text}");
}

extern "C" fn tiff_message(is_error: c_int, module: *const c_char, message: *const c_char) {
    let module = text_of(module);
    let message = text_of(message);
    if is_error != 0 {
        tracing::warn!(target: "libtiff", "{module}: {message}");
    } else {
        tracing::debug!(target: "libtiff", "{module}: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(level: u32, text: &str) {
        let text = CString::new(text).unwrap();
        span_message(level as c_int, text.as_ptr());
    }

    #[test]
    fn each_scope_gets_only_its_own_lines() {
        say(sys::SPAN_LOG_FLOW, "before any scope");
        let a = Capture::new(10).enter(7);
        say(sys::SPAN_LOG_FLOW, "Tx: DIS");
        let a = a.exit();
        let b = Capture::new(1).enter(9);
        say(sys::SPAN_LOG_PROTOCOL_ERROR, "Rx: DCN");
        say(sys::SPAN_LOG_FLOW, "dropped");
        say(sys::SPAN_LOG_FLOW, "T.38 tag Rx     0: IFP 00");
        let b = b.exit();
        say(sys::SPAN_LOG_FLOW, "after the scopes");
        assert_eq!(
            a.lines(),
            [CapturedLine {
                at_ms: 7,
                level: "flow",
                text: "Tx: DIS".into()
            }]
        );
        assert!(!a.truncated());
        assert_eq!(b.lines().len(), 1);
        assert_eq!(b.lines()[0].level, "protocol-error");
        assert_eq!(b.lines()[0].at_ms, 9);
        assert!(b.truncated());
    }

    #[test]
    fn a_dropped_scope_restores_the_outer_one() {
        let outer = Capture::new(10).enter(1);
        drop(Capture::new(10).enter(2));
        say(sys::SPAN_LOG_FLOW, "outer again");
        let outer = outer.exit();
        assert_eq!(outer.lines()[0].text, "outer again");
    }
}
