//! A gateway under test: this binary started as `webctp serve` in a temporary data
//! directory, so its CPU and memory can be measured apart from the load clients.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BenchError;

/// A running gateway process, stopped (SIGTERM, then kill) on drop.
pub struct GatewayProcess {
    pub child: Child,
    /// `ws://host:port` (the `/md/` and `/td/` paths are added by clients).
    pub url: String,
    pub dir: PathBuf,
    /// From spawn to the "on ws://" line.
    pub startup: Duration,
    exe: PathBuf,
    /// `ulimit -n` of the gateway, if set.
    files: Option<u32>,
}

impl GatewayProcess {
    /// Starts `webctp serve` with `yaml` as its config file.
    pub fn start(yaml: &str) -> Result<GatewayProcess, BenchError> {
        GatewayProcess::start_binary(yaml, None)
    }

    /// Starts `exe serve` (this binary when `None`), e.g. another build to compare.
    pub fn start_binary(
        yaml: &str,
        exe: Option<&std::path::Path>,
    ) -> Result<GatewayProcess, BenchError> {
        GatewayProcess::start_limited(yaml, exe, None)
    }

    /// Like [`GatewayProcess::start_binary`], with at most `files` open files (as
    /// `ulimit -n` sets them) when given.
    pub fn start_limited(
        yaml: &str,
        exe: Option<&std::path::Path>,
        files: Option<u32>,
    ) -> Result<GatewayProcess, BenchError> {
        let dir = std::env::temp_dir().join(format!(
            "webctp-bench-{}-{}",
            std::process::id(),
            super::stats::now_ns()
        ));
        std::fs::create_dir_all(&dir).map_err(BenchError::io("create", &dir))?;
        let cfg = dir.join("bench.yaml");
        std::fs::write(&cfg, yaml).map_err(BenchError::io("write", &cfg))?;
        let exe = match exe {
            Some(e) => e.to_path_buf(),
            None => std::env::current_exe().map_err(|source| BenchError::Spawn {
                program: "the gateway",
                source,
                hint: " (the path of this executable is unknown)",
            })?,
        };
        let (child, url, startup) = GatewayProcess::spawn(&exe, &dir, files)?;
        Ok(GatewayProcess {
            child,
            url,
            dir,
            startup,
            exe,
            files,
        })
    }

    /// Stops the gateway (SIGTERM: it flushes its ledger) and starts it again on the
    /// same data; returns the time from spawn to accepting connections.
    pub fn restart(&mut self) -> Result<Duration, BenchError> {
        self.stop(Duration::from_secs(120))?;
        let (child, url, startup) = GatewayProcess::spawn(&self.exe, &self.dir, self.files)?;
        self.child = child;
        self.url = url;
        self.startup = startup;
        Ok(startup)
    }

    fn stop(&mut self, wait: Duration) -> Result<(), BenchError> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(BenchError::timeout(
            "the gateway under test did not stop",
            wait,
        ))
    }

    fn spawn(
        exe: &std::path::Path,
        dir: &std::path::Path,
        files: Option<u32>,
    ) -> Result<(Child, String, Duration), BenchError> {
        let cfg = dir.join("bench.yaml");
        let started = Instant::now();
        let mut cmd = match files {
            None => Command::new(exe),
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(exe);
                c
            }
        };
        let mut child = cmd
            .args([
                "serve",
                "--port",
                "0",
                "--host",
                "127.0.0.1",
                "--log-level",
                "warn",
            ])
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env_remove("WEBCTP_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| BenchError::Spawn {
                program: "the gateway",
                source,
                hint: "",
            })?;
        // Piped just above, so it is there.
        let Some(stdout) = child.stdout.take() else {
            return Err(BenchError::NoBanner);
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.contains(" on ws://") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
            BenchError::timeout(
                "the gateway under test did not start",
                Duration::from_secs(120),
            )
        })?;
        let startup = started.elapsed();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .map(|u| u.trim_end_matches("/md/").to_string())
            .ok_or(BenchError::NoBanner)?;
        Ok((child, url, startup))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
