//! The API methods that are not requests (those are generated in `api_glue`): setup,
//! connection, market-data subscriptions — plus [`guard`], which keeps panics from
//! unwinding into the client.

#![allow(non_snake_case)]

pub mod md;
pub mod td;

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::api::{ApiState, FakeApi};

/// Runs an API call; a panic is logged and answered with `fallback`, never unwound
/// into the caller's C++ frames.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        eprintln!("fakectp: panic in an API call");
        fallback
    })
}

/// Runs `f` with the state of the object `this` (`fallback` for a null object or a
/// panic).
fn with<V: 'static, T: Copy>(
    this: *mut FakeApi<V>,
    fallback: T,
    f: impl FnOnce(&Arc<ApiState>) -> T,
) -> T {
    guard(fallback, || {
        // The client only passes objects it got from the factory and has not released.
        match unsafe { FakeApi::state(this) } {
            Some(s) => f(s),
            None => fallback,
        }
    })
}

/// A NUL-terminated string argument.
///
/// # Safety
/// `p` must be null or point at a NUL-terminated string.
unsafe fn c_str(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}
