//! Routes SpanDSP's and libtiff's messages to `tracing`.
//!
//! SpanDSP 0.0.6's message handler has no user-data argument and is copied into each state
//! object when it is created, so the global handler is installed once, before the first object.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::Once;

use spandsp_sys as sys;

use crate::LogLevel;

static INSTALL: Once = Once::new();

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
