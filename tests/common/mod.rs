//! Test harness: gateways on ephemeral loopback ports (in-process or the real binary)
//! and WebSocket clients with timeouts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use webctp::config::{Config, FileConfig, Overrides};

pub mod machine;
pub mod truth;
use webctp::gateway::Dispatcher;

/// Default timeout of every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often [`wait_for`] and [`wait_until_async`] look again.
const POLL: Duration = Duration::from_millis(20);

/// The sim's random seed in tests that do not pick their own: the same market on
/// every run, so a failure replays.
pub const TEST_SEED: u64 = 7;

/// Polls `check` until it gives `Some`; panics naming `what` after [`WAIT`]. Tests
/// wait for readiness this way, never by sleeping a guessed time.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// [`wait_for`] a condition.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    wait_for(what, || cond().then_some(()))
}

/// [`wait_until`] inside a tokio test: sleeps without blocking the runtime.
pub async fn wait_until_async(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A test that cannot run here says so on the real stderr (the test harness captures
/// `println!`, so a skip would otherwise read as a pass). With `WEBCTP_TEST_NO_SKIP=1`
/// (a CI that installed everything) a skip fails instead.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    assert!(
        std::env::var_os("WEBCTP_TEST_NO_SKIP").is_none(),
        "{test} cannot run: {reason} (and WEBCTP_TEST_NO_SKIP is set)"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// Nanoseconds since the Unix epoch (the sim stamps ticks with the same clock).
pub fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The sim's date in tests, unless a test sets `Sim.StartDate` itself: the seed's day,
/// on which the seed's examples (au2602, rb2605, TA601, IF2512...) are listed. Tests
/// must not depend on the wall clock, and contracts follow the date.
pub const SEED_DAY: &str = "2025-12-03";

/// Whether a config (or the environment given to a process) picks the date itself.
fn sets_start_date(text: &str) -> bool {
    text.contains("StartDate")
}

/// `webctp` as a command, on the seed's day unless the caller sets
/// `WEBCTP_SIM_START_DATE` (or a config file with `Sim.StartDate`) itself. When it
/// loads the fake CTP library, that sim starts on the seed's day too, and the fake's
/// query flow control (CTP's one query per second) is shortened to 5 ms so tests stay
/// fast; a test of the flow control sets `FAKECTP_QUERY_INTERVAL_MS` itself.
pub fn webctp() -> Command {
    let mut cmd = Command::new(binary_path());
    cmd.env_remove("WEBCTP_CONFIG")
        .env_remove("WEBCTP_SIM_SESSIONS")
        .env("WEBCTP_SIM_START_DATE", SEED_DAY)
        .env("FAKECTP_START_DATE", SEED_DAY)
        .env("FAKECTP_QUERY_INTERVAL_MS", "5");
    cmd
}

/// Runs a `webctp` command to its end; it must exit 0 (else the test fails with its
/// stderr). Returns its stdout.
pub fn succeeds(cmd: &mut Command) -> String {
    let out = cmd.output().expect("webctp runs");
    assert!(
        out.status.success(),
        "{:?} exited with {:?}: {}",
        cmd.get_args().collect::<Vec<_>>(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("webctp-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The YAML of a sim gateway for tests, with `sim` (e.g. `TickRate: 0`) in its `Sim:`
/// section: the one place for what every test's sim needs. It is seeded with
/// [`TEST_SEED`] unless `sim` sets `Seed`. The admin endpoints are on (tests settle
/// through them). Its date is pinned where it is used:
/// [`config`] and [`Binary::spawn`] start the sim on [`SEED_DAY`] unless `sim` sets
/// `StartDate`.
pub fn sim_config(sim: &str) -> String {
    if sim.contains("Seed") {
        format!("AdminEndpoints: true\nSim: {{{sim}}}\n")
    } else if sim.trim().is_empty() {
        format!("AdminEndpoints: true\nSim: {{Seed: {TEST_SEED}}}\n")
    } else {
        format!("AdminEndpoints: true\nSim: {{{sim}, Seed: {TEST_SEED}}}\n")
    }
}

/// Sends a bodiless HTTP request to the gateway behind `ws_url`; the whole response,
/// or an empty string if the connection failed (the gateway died).
pub fn http(ws_url: &str, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = ws_url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(WAIT));
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

/// Builds a config from YAML text plus a data dir and port 0; the sim starts on
/// [`SEED_DAY`] unless the YAML sets `Sim.StartDate`, seeded with [`TEST_SEED`] unless
/// it sets `Sim.Seed`.
pub fn config(yaml: &str, data_dir: &Path) -> Config {
    let file = FileConfig::parse(yaml).expect("test config parses");
    // A port override replaces the file's MdPort/TdPort; a two-port test keeps them.
    let two_ports = yaml.contains("MdPort") || yaml.contains("TdPort");
    let o = Overrides {
        port: (!two_ports).then_some(0),
        host: Some("127.0.0.1".into()),
        data_dir: Some(data_dir.to_path_buf()),
        sim_start_date: (!sets_start_date(yaml)).then(|| SEED_DAY.to_string()),
        ..Overrides::default()
    };
    let mut cfg = Config::resolve(file, None, o).expect("test config resolves");
    cfg.sim.seed.get_or_insert(TEST_SEED);
    cfg
}

/// A gateway running inside the test's runtime.
pub struct InProcess {
    pub dispatcher: Arc<Dispatcher>,
    pub url: String,
    pub md_url: String,
    pub td_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub dir: TempDir,
}

impl InProcess {
    pub async fn start(yaml: &str) -> InProcess {
        // RUST_LOG=webctp=debug shows the gateway's logs in a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = TempDir::new("gw");
        let cfg = config(yaml, dir.path());
        let dispatcher = webctp::cli::start_dispatcher(cfg).expect("gateway starts");
        let (listeners, bound) = webctp::server::bind(&dispatcher).await.expect("binds");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let d = dispatcher.clone();
        let task = tokio::spawn(async move {
            webctp::server::serve(d, listeners, async move {
                let _ = rx.await;
            })
            .await;
        });
        InProcess {
            dispatcher,
            url: format!("ws://{}", bound.md),
            md_url: format!("ws://{}/md/", bound.md),
            td_url: format!("ws://{}/td/", bound.td),
            stop: Some(tx),
            task: Some(task),
            dir,
        }
    }

    /// Stops accepting and closes all clients; waits until done.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(WAIT, t).await;
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A WebSocket client that skips the server's heartbeat Pings unless asked.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub keep_pings: bool,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timed out")
            .expect("connects");
        Client {
            ws,
            keep_pings: false,
        }
    }

    /// A client over an already opened WebSocket.
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        Client {
            ws,
            keep_pings: false,
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send");
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.expect("send");
    }

    /// The next message (JSON), or None on close. Panics after the timeout.
    pub async fn recv_timeout(&mut self, t: Duration) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(t, self.ws.next())
                .await
                .expect("no message before the timeout")?;
            match m {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("server sends JSON");
                    if !self.keep_pings && v["MsgType"] == "Ping" {
                        continue;
                    }
                    return Some(v);
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    pub async fn recv(&mut self) -> Value {
        self.recv_timeout(WAIT).await.expect("connection open")
    }

    /// Waits for a message for which `pred` holds, dropping others.
    pub async fn recv_until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self
                .recv_timeout(left.max(Duration::from_millis(1)))
                .await
                .expect("connection closed while waiting");
            if pred(&v) {
                return v;
            }
        }
    }

    /// Messages of `msg_type` until one with IsLast.
    pub async fn recv_all(&mut self, msg_type: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.recv_until(|v| v["MsgType"] == msg_type).await;
            let last = v["IsLast"] == true;
            out.push(v);
            if last {
                return out;
            }
        }
    }

    /// Collects everything that arrives within `d`.
    pub async fn drain_for(&mut self, d: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + d;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return out;
            }
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if self.keep_pings || v["MsgType"] != "Ping" {
                        out.push(v);
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_))) | Ok(None) => return out,
                Err(_) => return out,
            }
        }
    }

    /// Reads the close frame: (code, reason), or None if the stream ended without one.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close timed out")?;
            match m {
                Ok(Message::Close(Some(f))) => return Some((f.code.into(), f.reason.to_string())),
                Ok(Message::Close(None)) => return Some((1005, String::new())),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    pub async fn md_login(&mut self) -> Value {
        self.send(
            json!({"MsgType": "ReqUserLogin", "ReqUserLogin": {"UserID": "", "Password": ""}}),
        )
        .await;
        self.recv_until(|v| v["MsgType"] == "RspUserLogin").await
    }

    pub async fn td_login(&mut self, user: &str, password: &str) -> Value {
        self.send(json!({"MsgType": "ReqUserLogin", "RequestID": 1,
            "ReqUserLogin": {"UserID": user, "Password": password}}))
            .await;
        self.recv_until(|v| v["MsgType"] == "RspUserLogin").await
    }

    /// Logs in as `user`; a refused login fails the test. Returns the answer (its
    /// TradingDay, SessionID...).
    pub async fn td_login_ok(&mut self, user: &str, password: &str) -> Value {
        let login = self.td_login(user, password).await;
        assert_eq!(
            login["RspInfo"]["ErrorID"], 0,
            "the login as {user} was refused: {login}"
        );
        login
    }

    /// A fresh connection to `td_url`, logged in as `user` (see [`Client::td_login_ok`]),
    /// and the login's answer.
    pub async fn td_session(td_url: &str, user: &str, password: &str) -> (Client, Value) {
        let mut c = Client::connect(td_url).await;
        let login = c.td_login_ok(user, password).await;
        (c, login)
    }

    /// A fresh connection to `td_url`, logged in as `user` with the password the sim
    /// opens new accounts with in the tests (`123456`).
    pub async fn td_client(td_url: &str, user: &str) -> Client {
        Client::td_session(td_url, user, "123456").await.0
    }

    pub fn into_inner(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.ws
    }
}

/// The real binary, started with `args`; killed on drop.
pub struct Binary {
    pub child: Child,
    pub md_url: String,
    pub td_url: String,
    pub stderr_path: PathBuf,
}

/// The binary under test; run it through [`webctp`], which pins the sim's date.
fn binary_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_webctp"))
}

impl Binary {
    /// Starts `webctp serve` on an ephemeral port with `config` as its YAML file and
    /// `dir/data` as its data dir; starting again with the same `dir` reopens that data.
    pub fn serve(dir: &TempDir, config: &str, env: &[(&str, &str)]) -> Binary {
        Binary::try_serve(dir, config, env)
            .unwrap_or_else(|(code, err)| panic!("binary did not start ({code:?}); stderr: {err}"))
    }

    /// Like [`Binary::serve`], for a start that may be refused: `Err` holds the exit
    /// code and stderr of a process that ended without serving.
    pub fn try_serve(
        dir: &TempDir,
        config: &str,
        env: &[(&str, &str)],
    ) -> Result<Binary, (Option<i32>, String)> {
        let cfg = dir.path().join("webctp.yaml");
        std::fs::write(&cfg, config).unwrap();
        let data = dir.path().join("data");
        Binary::try_spawn(
            &[
                "serve",
                "--port",
                "0",
                "--config",
                cfg.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ],
            env,
            dir.path(),
        )
    }

    /// Starts `webctp <args>` and waits for its "on ws://" line. The sim starts on
    /// [`SEED_DAY`] unless `env` or the `--config` file sets the date.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], log_dir: &Path) -> Binary {
        Binary::try_spawn(args, env, log_dir)
            .unwrap_or_else(|(code, err)| panic!("binary did not start ({code:?}); stderr: {err}"))
    }

    /// Starts `webctp <args>`; `Err` with the exit code and stderr if it ends (or
    /// does not serve within the timeout) instead of printing its "on ws://" line.
    pub fn try_spawn(
        args: &[&str],
        env: &[(&str, &str)],
        log_dir: &Path,
    ) -> Result<Binary, (Option<i32>, String)> {
        use std::io::{BufRead, BufReader};
        let stderr_path = log_dir.join(format!(
            "stderr-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = webctp();
        let config_sets_date = args
            .windows(2)
            .filter(|w| w[0] == "--config" || w[0] == "-c")
            .any(|w| std::fs::read_to_string(w[1]).is_ok_and(|t| sets_start_date(&t)));
        if config_sets_date {
            cmd.env_remove("WEBCTP_SIM_START_DATE");
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if line.contains(" on ws://") {
                    let _ = tx.send(Some(line));
                }
            }
            // stdout closed: the process ended.
            let _ = tx.send(None);
        });
        let Ok(Some(line)) = rx.recv_timeout(WAIT) else {
            let _ = child.kill();
            let status = child.wait().ok().and_then(|s| s.code());
            return Err((
                status,
                std::fs::read_to_string(&stderr_path).unwrap_or_default(),
            ));
        };
        let urls: Vec<&str> = line
            .split_whitespace()
            .filter(|w| w.starts_with("ws://"))
            .collect();
        Ok(Binary {
            child,
            md_url: urls[0].to_string(),
            td_url: urls[1].to_string(),
            stderr_path,
        })
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to exit; returns its status code.
    pub fn wait(&mut self, t: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + t;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds `libfakectp.so` once per test run and links it under both official names
/// in a directory of its own.
pub fn fake_lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-p", "fakectp", "--message-format=json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("cargo runs");
        assert!(out.status.success(), "cargo build -p fakectp failed");
        let lib = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "fakectp")
            .flat_map(|m| {
                m["filenames"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.as_str().map(PathBuf::from))
            })
            .find(|f| f.extension().is_some_and(|e| e == "so"))
            .expect("cargo reports libfakectp.so");
        let dir = lib.with_file_name("fakectp-as-ctp");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["libthostmduserapi_se.so", "libthosttraderapi_se.so"] {
            let link = dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&lib, &link).unwrap();
        }
        dir
    })
}

impl Binary {
    /// Starts `webctp serve` on the native backend over the fake CTP library, its
    /// fronts unreachable addresses the fake ignores; `dir/data` is the gateway's data
    /// dir and `dir/fake` the fake's. `fake_env` configures the fake (`FAKECTP_*`).
    pub fn native(dir: &TempDir, fake_env: &[(&str, &str)]) -> Binary {
        // The fake's query flow control is shortened by `webctp()` (unless a test sets
        // it); pace the gateway's queries quickly too, to keep tests short.
        Binary::native_with(dir, "QueryInterval: 10\n", fake_env)
    }

    /// Like [`Binary::native`], with `yaml` as the gateway's config file (the admin
    /// endpoints are turned on unless `yaml` says otherwise: tests settle through them).
    pub fn native_with(dir: &TempDir, yaml: &str, fake_env: &[(&str, &str)]) -> Binary {
        let lib_dir = fake_lib_dir();
        let fake_data = dir.path().join("fake");
        let yaml = if yaml.contains("AdminEndpoints") {
            yaml.to_string()
        } else {
            format!("AdminEndpoints: true\n{yaml}")
        };
        let mut env: Vec<(&str, &str)> = vec![("FAKECTP_DATA_DIR", fake_data.to_str().unwrap())];
        env.extend_from_slice(fake_env);
        // The fake ignores the front's address: its sim is the front.
        Binary::native_serve(dir, lib_dir, "tcp://127.0.0.1:1", &yaml, &env)
    }

    /// `webctp serve` on the native backend with the CTP libraries in `lib_dir` (the
    /// fake's or the official ones), both fronts at `front`, the config `yaml` in
    /// `dir/webctp.yaml` and the data dir `dir/data`.
    pub fn native_serve(
        dir: &TempDir,
        lib_dir: &Path,
        front: &str,
        yaml: &str,
        env: &[(&str, &str)],
    ) -> Binary {
        let data = dir.path().join("data");
        let config = dir.path().join("webctp.yaml");
        std::fs::write(&config, yaml).unwrap();
        Binary::spawn(
            &[
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--backend",
                "native",
                "--ctp-lib-dir",
                lib_dir.to_str().unwrap(),
                "--td-front",
                front,
                "--md-front",
                front,
                "--data-dir",
                data.to_str().unwrap(),
            ],
            env,
            dir.path(),
        )
    }
}

/// A limit order insert request.
pub fn order(
    rid: i64,
    inst: &str,
    direction: &str,
    offset: &str,
    price: f64,
    volume: i32,
) -> Value {
    json!({"MsgType": "ReqOrderInsert", "RequestID": rid, "InputOrder": {
        "InstrumentID": inst, "Direction": direction, "CombOffsetFlag": offset,
        "CombHedgeFlag": "1", "OrderPriceType": "2", "LimitPrice": price,
        "VolumeTotalOriginal": volume, "TimeCondition": "3", "VolumeCondition": "1",
        "ContingentCondition": "1", "ForceCloseReason": "0"}})
}

/// A query request with an empty or given filter.
pub fn query(msg_type: &str, rid: i64, filter: Value) -> Value {
    let key = msg_type.trim_start_matches("Req");
    json!({"MsgType": msg_type, "RequestID": rid, key: filter})
}

/// The InstrumentIDs of `RspSubMarketData` (or `RspUnSubMarketData`) answers, in order.
pub fn instrument_ids(answers: &[Value]) -> Vec<&str> {
    answers
        .iter()
        .map(|v| {
            v["SpecificInstrument"]["InstrumentID"]
                .as_str()
                .unwrap_or_else(|| panic!("an answer naming its instrument: {v}"))
        })
        .collect()
}

/// What `RtnTrade` pushes (or `RspQryTrade` records) add up to: lots, and their cost
/// (price times lots, before the volume multiple).
pub fn trades_volume_and_cost(trades: &[Value]) -> (i64, f64) {
    trades.iter().fold((0, 0.0), |(volume, cost), t| {
        let t = &t["Trade"];
        let (Some(lots), Some(price)) = (t["Volume"].as_i64(), t["Price"].as_f64()) else {
            panic!("a trade with a Volume and a Price: {t}");
        };
        (volume + lots, cost + price * lots as f64)
    })
}

/// The TradingDay of an `RspUserLogin`.
pub fn trading_day(login: &Value) -> String {
    login["RspUserLogin"]["TradingDay"]
        .as_str()
        .unwrap_or_else(|| panic!("a login answer with a TradingDay: {login}"))
        .to_string()
}

/// The OrderSysIDs of a ReqQryOrder answer.
pub fn order_sys_ids(orders: &[Value]) -> std::collections::HashSet<String> {
    orders
        .iter()
        .map(|o| {
            o["Order"]["OrderSysID"]
                .as_str()
                .expect("every order has an OrderSysID")
                .trim()
                .to_string()
        })
        .collect()
}

impl Client {
    /// Sends a query and collects every record of its answer.
    pub async fn ask(&mut self, msg_type: &str, rid: i64, filter: Value) -> Vec<Value> {
        self.send(query(msg_type, rid, filter)).await;
        let rsp = format!("Rsp{}", msg_type.trim_start_matches("Req"));
        let mut out = Vec::new();
        loop {
            let v = self
                .recv_until(|v| v["MsgType"] == rsp.as_str() && v["RequestID"] == rid)
                .await;
            let last = v["IsLast"] == true;
            out.push(v);
            if last {
                return out;
            }
        }
    }

    /// Collects order and trade pushes until the order just sent reaches a final
    /// status (or the request is rejected), then the trades that still follow.
    pub async fn until_final(&mut self) -> (Vec<Value>, Vec<Value>) {
        let mut orders = Vec::new();
        let mut trades = Vec::new();
        loop {
            let v = self
                .recv_until(|v| {
                    matches!(
                        v["MsgType"].as_str(),
                        Some("RtnOrder" | "RtnTrade" | "RspOrderInsert" | "ErrRtnOrderInsert")
                    )
                })
                .await;
            match v["MsgType"].as_str() {
                Some("RtnOrder") => {
                    let status = v["Order"]["OrderStatus"].as_str().unwrap().to_string();
                    orders.push(v);
                    if status == "0" || status == "5" {
                        break;
                    }
                }
                Some("RtnTrade") => trades.push(v),
                _ => {
                    orders.push(v);
                    break;
                }
            }
        }
        // A trade can follow the final RtnOrder.
        let traded: i64 = orders
            .last()
            .map_or(0, |o| o["Order"]["VolumeTraded"].as_i64().unwrap_or(0));
        while trades
            .iter()
            .map(|t| t["Trade"]["Volume"].as_i64().unwrap())
            .sum::<i64>()
            < traded
        {
            trades.push(self.recv_until(|v| v["MsgType"] == "RtnTrade").await);
        }
        (orders, trades)
    }

    /// Sends a ReqUserPasswordUpdate with `body` and returns its answer.
    pub async fn password_update(&mut self, rid: i64, body: Value) -> Value {
        self.send(json!({"MsgType": "ReqUserPasswordUpdate", "RequestID": rid, "UserPasswordUpdate": body}))
            .await;
        self.recv_until(|v| v["MsgType"] == "RspUserPasswordUpdate")
            .await
    }

    /// The current book of an instrument: (bid1, ask1, tick-aligned limits).
    pub async fn book(&mut self, inst: &str) -> (f64, f64, f64, f64) {
        let d = self
            .ask("ReqQryDepthMarketData", 900, json!({"InstrumentID": inst}))
            .await;
        let d = &d[0]["DepthMarketData"];
        (
            d["BidPrice1"].as_f64().unwrap(),
            d["AskPrice1"].as_f64().unwrap(),
            d["UpperLimitPrice"].as_f64().unwrap(),
            d["LowerLimitPrice"].as_f64().unwrap(),
        )
    }
}

/// A WebSocket client speaking raw frames, for what well-behaved libraries refuse to
/// send (invalid UTF-8 in a text frame).
pub struct RawWs {
    pub stream: std::net::TcpStream,
}

impl RawWs {
    /// Opens `ws://addr/path` with a hand-written handshake.
    pub fn connect(addr: &str, path: &str) -> RawWs {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut buf = [0u8; 1024];
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "handshake cut short");
            head.extend_from_slice(&buf[..n]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        RawWs { stream }
    }

    /// Sends one masked frame.
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        use std::io::Write;
        let mut f = vec![0x80 | opcode];
        let mask = [1u8, 2, 3, 4];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n < 65536 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&f).unwrap();
    }

    /// Reads frames until a close frame; returns its code.
    pub fn close_code(&mut self) -> Option<u16> {
        use std::io::Read;
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // Parse complete frames in `data`.
            let mut pos = 0;
            while data.len() >= pos + 2 {
                let op = data[pos] & 0x0f;
                let mut len = (data[pos + 1] & 0x7f) as usize;
                let mut hdr = 2;
                if len == 126 {
                    if data.len() < pos + 4 {
                        break;
                    }
                    len = u16::from_be_bytes([data[pos + 2], data[pos + 3]]) as usize;
                    hdr = 4;
                } else if len == 127 {
                    if data.len() < pos + 10 {
                        break;
                    }
                    len = u64::from_be_bytes(data[pos + 2..pos + 10].try_into().unwrap()) as usize;
                    hdr = 10;
                }
                if data.len() < pos + hdr + len {
                    break;
                }
                if op == 8 {
                    let p = &data[pos + hdr..pos + hdr + len];
                    return (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
                }
                pos += hdr + len;
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// What the next read brought.
#[derive(Debug)]
pub enum Event {
    Msg(Value),
    Closed(Option<(u16, String)>),
    Timeout,
}

impl Client {
    /// The next message or close frame within `t` (Pings skipped unless kept).
    pub async fn next_event(&mut self, t: Duration) -> Event {
        let deadline = tokio::time::Instant::now() + t;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Ok(m) = tokio::time::timeout(left, self.ws.next()).await else {
                return Event::Timeout;
            };
            match m {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("server sends JSON");
                    if !self.keep_pings && v["MsgType"] == "Ping" {
                        continue;
                    }
                    return Event::Msg(v);
                }
                Some(Ok(Message::Close(f))) => {
                    return Event::Closed(f.map(|f| (f.code.into(), f.reason.to_string())));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Event::Closed(None),
            }
        }
    }
}
