//! Small conversions between Rust values and what the C API takes.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::Error;

/// SpanDSP copies file paths into a 256-byte buffer and truncates silently beyond it.
const MAX_PATH_BYTES: usize = 255;

/// A path as a C string SpanDSP will not truncate.
pub(crate) fn path_to_cstring(path: &Path) -> Result<CString, Error> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() > MAX_PATH_BYTES {
        return Err(Error::BadPath(path.to_owned()));
    }
    CString::new(bytes).map_err(|_| Error::BadPath(path.to_owned()))
}

/// Copies a C string SpanDSP owns into a trimmed Rust string (empty for NULL).
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn owned_string(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .trim()
        .to_owned()
}
