//! A redis-server for `bench md --edges N`: started on a free loopback port with no
//! persistence, stopped on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BenchError;

/// A running redis-server.
pub struct RedisProcess {
    child: Child,
    /// `redis://127.0.0.1:PORT/0`.
    pub url: String,
}

impl RedisProcess {
    /// Starts `redis-server` from the PATH and waits until it answers PING.
    pub fn start() -> Result<RedisProcess, BenchError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|source| BenchError::Spawn {
                program: "redis-server",
                source,
                hint: " (no free loopback port for it)",
            })?;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| BenchError::Spawn {
                program: "redis-server",
                source,
                hint: "; --edges needs it (apt-get install redis-server)",
            })?;
        let url = format!("redis://127.0.0.1:{port}/0");
        let mut r = RedisProcess { child, url };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = redis::Client::open(r.url.as_str())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if ok {
                return Ok(r);
            }
            if Instant::now() > deadline {
                r.stop();
                return Err(BenchError::timeout(
                    "redis-server did not answer",
                    Duration::from_secs(10),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id (for its CPU figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
