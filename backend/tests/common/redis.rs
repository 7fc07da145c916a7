//! A real `redis-server` on a free loopback port, for the multi-replica
//! tests: started empty or persistent, killed and restarted on the same port.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::{PATIENCE, free_port, scratch_dir};

/// `redis-server` on 127.0.0.1; killed on drop, its directory removed.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    /// Append-only file with fsync on every write, so a SIGKILL loses nothing.
    is_persistent: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// No persistence (`--save '' --appendonly no`): a restart starts empty.
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// AOF with `appendfsync always` in a scratch directory: data survives a kill.
    pub async fn start_persistent() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(is_persistent: bool) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = scratch_dir().join(format!("redis-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).expect("create redis dir");
        let mut server = Self { port: free_port(), dir, is_persistent, child: None };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts (again) on the same port and waits until it answers PING.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        let port = self.port.to_string();
        let mut command = Command::new("/usr/bin/redis-server");
        command.args(["--port", &port, "--bind", "127.0.0.1", "--save", ""]);
        if self.is_persistent {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        command.arg("--dir").arg(&self.dir);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed at /usr/bin/redis-server");
        let deadline = Instant::now() + PATIENCE;
        while !self.is_up().await {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("redis-server exited with {status} (port {port} taken?)");
            }
            assert!(Instant::now() < deadline, "redis-server did not answer PING on port {port}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.child = Some(child);
    }

    /// SIGKILL: Redis disappears as in a crash.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("redis is running");
        child.kill().await.expect("kill redis-server");
        assert!(!self.is_up().await, "redis still answers after being killed");
    }

    /// Whether something on the port answers `PING` with `PONG`.
    pub async fn is_up(&self) -> bool {
        let attempt = async {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
            stream.write_all(b"PING\r\n").await.ok()?;
            let mut buf = [0u8; 7];
            stream.read_exact(&mut buf).await.ok()?;
            Some(&buf == b"+PONG\r\n")
        };
        tokio::time::timeout(Duration::from_millis(500), attempt).await.ok().flatten().unwrap_or(false)
    }

    /// Runs one command through `redis-cli` and returns its raw output lines.
    pub async fn cli(&self, args: &[&str]) -> Vec<String> {
        let output = Command::new("/usr/bin/redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .await
            .expect("redis-cli is installed");
        assert!(output.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).filter(|l| !l.is_empty()).collect()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
