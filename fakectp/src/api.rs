//! The API objects handed to the client: a vtable pointer (as C++ expects) followed by
//! shared state that the callback thread also holds, so that the object itself can be
//! freed by `Release()` whatever thread is running.

use std::collections::HashSet;
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use webctp_protocol::Reply;
use webctp_protocol::backend::{FrontEvent, MdEvents, MdSession, TdEvents, TdSession};
use webctp_protocol::fields::DepthMarketData;

use crate::engine;
use crate::worker;

/// Which library an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Md,
    Td,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Md => "md",
            Kind::Td => "td",
        }
    }
}

/// What the callback thread delivers.
pub enum Event {
    Reply(Reply),
    Tick(Box<DepthMarketData>),
    Front(FrontEvent),
    Stop,
}

/// The sim session behind an object, once `Init()` connected it.
#[derive(Default)]
pub enum Session {
    #[default]
    None,
    Md(Arc<dyn MdSession>),
    Td(Arc<dyn TdSession>),
}

/// Hands the sim's events to the callback thread.
struct Forward {
    tx: mpsc::Sender<Event>,
}

impl Forward {
    fn send(&self, e: Event) {
        // The receiver only goes away after Release(), when nobody listens anyway.
        let _ = self.tx.send(e);
    }
}

impl MdEvents for Forward {
    fn reply(&self, reply: Reply) {
        self.send(Event::Reply(reply));
    }
    fn tick(&self, data: DepthMarketData) {
        self.send(Event::Tick(Box::new(data)));
    }
    fn front(&self, event: FrontEvent) {
        self.send(Event::Front(event));
    }
}

impl TdEvents for Forward {
    fn reply(&self, reply: Reply) {
        self.send(Event::Reply(reply));
    }
    fn front(&self, event: FrontEvent) {
        self.send(Event::Front(event));
    }
}

/// Everything an API object knows, shared with its callback thread.
pub struct ApiState {
    pub kind: Kind,
    /// The client's SPI object (`CThostFtdcMdSpi*` / `CThostFtdcTraderSpi*`).
    pub spi: AtomicPtr<c_void>,
    pub stopped: AtomicBool,
    fronts: Mutex<Vec<String>>,
    session: Mutex<Session>,
    tx: mpsc::Sender<Event>,
    rx: Mutex<Option<mpsc::Receiver<Event>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// `GetTradingDay()`: CTP's "19800100" until a login answers.
    trading_day: Mutex<CString>,
    flow: Mutex<QueryFlow>,
}

/// The queries of one trading API object, for its flow control.
#[derive(Default)]
struct QueryFlow {
    last_accepted: Option<Instant>,
    /// Request IDs of queries sent and not yet answered with IsLast.
    pending: HashSet<i32>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ApiState {
    fn new(kind: Kind) -> ApiState {
        let (tx, rx) = mpsc::channel();
        ApiState {
            kind,
            spi: AtomicPtr::new(std::ptr::null_mut()),
            stopped: AtomicBool::new(false),
            fronts: Mutex::new(Vec::new()),
            session: Mutex::new(Session::None),
            tx,
            rx: Mutex::new(Some(rx)),
            worker: Mutex::new(None),
            trading_day: Mutex::new(c"19800100".to_owned()),
            flow: Mutex::new(QueryFlow::default()),
        }
    }

    /// Admits query `request_id` under the flow limits, or says why not: -2 when too
    /// many queries are unanswered, -3 when it comes too soon after the last one.
    pub fn admit_query(&self, request_id: i32, limits: engine::FlowLimits) -> Result<(), i32> {
        let mut f = lock(&self.flow);
        if f.pending.len() >= limits.max_pending_queries {
            return Err(webctp_protocol::errors::request::TOO_MANY_UNANSWERED);
        }
        let now = Instant::now();
        if f.last_accepted
            .is_some_and(|t| now.duration_since(t) < limits.query_interval)
        {
            return Err(webctp_protocol::errors::request::TOO_MANY_PER_SECOND);
        }
        f.last_accepted = Some(now);
        f.pending.insert(request_id);
        Ok(())
    }

    /// A query that was admitted but could not be sent.
    pub fn forget_query(&self, request_id: i32) {
        lock(&self.flow).pending.remove(&request_id);
    }

    /// An object already connected to `session`, and the receiving end of its
    /// callback queue (for unit tests, without a callback thread).
    #[cfg(test)]
    pub fn connected_for_test(
        session: Arc<dyn TdSession>,
    ) -> (Arc<ApiState>, mpsc::Receiver<Event>) {
        let s = ApiState::new(Kind::Td);
        *lock(&s.session) = Session::Td(session);
        let rx = lock(&s.rx).take();
        match rx {
            Some(rx) => (Arc::new(s), rx),
            None => unreachable!("a new object has its receiver"),
        }
    }

    /// The front went away: unanswered queries are lost with it.
    pub fn front_lost(&self) {
        lock(&self.flow).pending.clear();
    }

    /// Notes an answer on its way to the client: a query's last answer ends it.
    pub fn answered(&self, reply: &Reply) {
        if reply.is_last
            && let Some(rid) = reply.request_id
        {
            lock(&self.flow).pending.remove(&rid);
        }
    }

    /// `RegisterFront`.
    pub fn add_front(&self, front: String) {
        lock(&self.fronts).push(front);
    }

    /// `RegisterSpi`: a plain store, as in the real library.
    pub fn set_spi(&self, spi: *mut c_void) {
        self.spi.store(spi, Ordering::Release);
    }

    /// `Init`: starts the callback thread and connects to the sim, which answers with
    /// `OnFrontConnected` once its front is up.
    pub fn init(self: &Arc<Self>) {
        let Some(rx) = lock(&self.rx).take() else {
            tracing::warn!(api = self.kind.name(), "Init called twice");
            return;
        };
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("fakectp-{}", self.kind.name()))
            .spawn(move || worker::run(me, rx));
        match spawned {
            Ok(h) => *lock(&self.worker) = Some(h),
            Err(e) => {
                tracing::error!("fakectp cannot start its callback thread: {e}");
                return;
            }
        }
        let fronts = lock(&self.fronts).clone();
        if fronts.is_empty() {
            // Like the real library: no front, no connection, no callback.
            tracing::warn!(api = self.kind.name(), "Init without RegisterFront");
            return;
        }
        tracing::info!(api = self.kind.name(), ?fronts, "fakectp connecting");
        let sim = match engine::sim() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fakectp: the sim did not start: {e}");
                return;
            }
        };
        let forward = Arc::new(Forward {
            tx: self.tx.clone(),
        });
        let session = match self.kind {
            Kind::Md => {
                webctp_protocol::backend::Backend::md_session(sim, forward).map(Session::Md)
            }
            Kind::Td => {
                webctp_protocol::backend::Backend::td_session(sim, forward, "").map(Session::Td)
            }
        };
        match session {
            Ok(s) => *lock(&self.session) = s,
            Err(e) => eprintln!("fakectp: the sim refused a session: {e}"),
        }
    }

    /// The market-data session, if connected.
    pub fn md(&self) -> Option<Arc<dyn MdSession>> {
        match &*lock(&self.session) {
            Session::Md(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The trading session, if connected.
    pub fn td(&self) -> Option<Arc<dyn TdSession>> {
        match &*lock(&self.session) {
            Session::Td(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// Queues a reply made by the fake itself (not by the sim).
    pub fn post(&self, reply: Reply) {
        let _ = self.tx.send(Event::Reply(reply));
    }

    /// Remembers the trading day of a login answer for `GetTradingDay()`.
    pub fn set_trading_day(&self, day: &str) {
        if let Ok(c) = CString::new(day) {
            *lock(&self.trading_day) = c;
        }
    }

    /// `GetTradingDay()`: the pointer stays valid until the next login answer.
    pub fn trading_day_ptr(&self) -> *const c_char {
        lock(&self.trading_day).as_ptr()
    }

    /// Stops the callback thread and waits for it (unless called from it); after this
    /// the client's SPI is never called again.
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        *lock(&self.session) = Session::None;
        let _ = self.tx.send(Event::Stop);
        let handle = lock(&self.worker).take();
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
    }
}

/// An API object: what the client's pointer points at.
#[repr(C)]
pub struct FakeApi<V: 'static> {
    /// First, as C++ expects: points at the `vtbl` field of a `Prefixed` static.
    vtbl: *const V,
    pub state: Arc<ApiState>,
}

impl<V: 'static> FakeApi<V> {
    /// A new object, owned by the client until it calls `Release()`.
    pub fn create(vtbl: &'static V, kind: Kind) -> *mut FakeApi<V> {
        Box::into_raw(Box::new(FakeApi {
            vtbl,
            state: Arc::new(ApiState::new(kind)),
        }))
    }

    /// The state of the object `this` points at.
    ///
    /// # Safety
    /// `this` must be null or an object from [`FakeApi::create`] not yet released.
    pub unsafe fn state<'a>(this: *mut FakeApi<V>) -> Option<&'a Arc<ApiState>> {
        unsafe { this.as_ref() }.map(|o| &o.state)
    }

    /// `Release()`: stops the callback thread, then frees the object.
    ///
    /// # Safety
    /// As for [`FakeApi::state`]; `this` is dangling afterwards.
    pub unsafe fn release(this: *mut FakeApi<V>) {
        if this.is_null() {
            return;
        }
        let obj = unsafe { Box::from_raw(this) };
        obj.state.stop();
        tracing::debug!(api = obj.state.kind.name(), "fakectp API released");
    }
}
