//! Ownership of one API object and its SPI object, and how they are let go.
//!
//! `Release()` joins the library's threads, so it must never run on one of them (a
//! session is often dropped inside a callback, e.g. after `OnRspUserLogout`) and
//! should not block an async runtime thread. Dropping an [`ApiHandle`] therefore hands
//! both objects to a short-lived thread that unregisters the SPI, releases the API and
//! only then frees the SPI, which the library may call until `Release()` returns.

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::spi::SpiObject;
use super::vtables::{CThostFtdcMdApi, CThostFtdcMdSpi, CThostFtdcTraderApi, CThostFtdcTraderSpi};

/// What releasing an API object takes.
pub trait ApiObject: 'static {
    /// `RegisterSpi(nullptr)` then `Release()`.
    ///
    /// # Safety
    /// `this` must be a live API object; it is gone afterwards.
    unsafe fn detach_and_release(this: *mut Self);
}

impl ApiObject for CThostFtdcMdApi {
    unsafe fn detach_and_release(this: *mut Self) {
        unsafe {
            let v = &*(*this).vtbl;
            (v.RegisterSpi)(this, std::ptr::null_mut::<CThostFtdcMdSpi>());
            (v.Release)(this);
        }
    }
}

impl ApiObject for CThostFtdcTraderApi {
    unsafe fn detach_and_release(this: *mut Self) {
        unsafe {
            let v = &*(*this).vtbl;
            (v.RegisterSpi)(this, std::ptr::null_mut::<CThostFtdcTraderSpi>());
            (v.Release)(this);
        }
    }
}

/// A raw pointer that may move to the release thread.
struct SendPtr<T>(NonNull<T>);

// The pointee is only touched by the release thread once the handle is gone.
unsafe impl<T> Send for SendPtr<T> {}

impl<T> SendPtr<T> {
    // A method, so that closures capture the whole (Send) wrapper, not the field.
    fn get(&self) -> *mut T {
        self.0.as_ptr()
    }
}

/// An API object with its registered SPI object; released on drop.
pub struct ApiHandle<A: ApiObject> {
    api: NonNull<A>,
    spi: NonNull<SpiObject>,
    /// Cleared on drop, so that the sink ignores callbacks still in flight.
    alive: Arc<AtomicBool>,
    /// What the object uses until it is released (its flow directory lease).
    keep: Option<Box<dyn Send>>,
    name: &'static str,
}

// The API objects are thread-safe (CTP's request calls may come from any thread), and
// the SPI object is only read through shared references.
unsafe impl<A: ApiObject> Send for ApiHandle<A> {}
unsafe impl<A: ApiObject> Sync for ApiHandle<A> {}

impl<A: ApiObject> ApiHandle<A> {
    /// Takes ownership of `api` (fresh from the factory), of `spi`, and of `keep`,
    /// which is dropped once the object is released. Returns None if the factory
    /// returned null; `spi` is then freed.
    pub fn new(
        api: *mut A,
        spi: Box<SpiObject>,
        alive: Arc<AtomicBool>,
        keep: Box<dyn Send>,
        name: &'static str,
    ) -> Option<ApiHandle<A>> {
        let api = NonNull::new(api)?;
        Some(ApiHandle {
            api,
            spi: NonNull::from(Box::leak(spi)),
            alive,
            keep: Some(keep),
            name,
        })
    }

    /// The API object.
    pub fn api(&self) -> *mut A {
        self.api.as_ptr()
    }

    /// The SPI object, as the library's SPI class.
    pub fn spi<S>(&self) -> *mut S {
        self.spi.as_ptr().cast()
    }
}

impl<A: ApiObject> Drop for ApiHandle<A> {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
        let api = SendPtr(self.api);
        let spi = SendPtr(self.spi);
        let keep = self.keep.take();
        let name = self.name;
        let spawned = std::thread::Builder::new()
            .name(format!("ctp-release-{name}"))
            .spawn(move || {
                unsafe { A::detach_and_release(api.get()) };
                // The library has stopped calling it: now it can go.
                drop(unsafe { Box::from_raw(spi.get()) });
                drop(keep);
                tracing::debug!(api = name, "CTP API object released");
            });
        if let Err(e) = spawned {
            // Releasing here could deadlock on a library thread; leaking is safe.
            tracing::error!(
                api = name,
                "cannot start a thread to release a CTP API object ({e}); it is leaked"
            );
        }
    }
}
