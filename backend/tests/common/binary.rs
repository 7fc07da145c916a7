//! The real `token-backend` binary as a child process, with exactly the
//! environment a test gives it.

use std::process::{ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use super::{PATIENCE, lock, scratch_dir, wait_until};

/// Lines a child process writes to one stream, collected as they arrive.
#[derive(Debug, Clone)]
pub struct LogCapture {
    lines: Arc<Mutex<Vec<String>>>,
    finished: Arc<std::sync::atomic::AtomicBool>,
}

impl LogCapture {
    pub(super) fn start(stream: impl AsyncRead + Unpin + Send + 'static) -> Self {
        let capture = Self { lines: Arc::default(), finished: Arc::default() };
        let c = capture.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lock(&c.lines).push(line);
            }
            c.finished.store(true, Ordering::SeqCst);
        });
        capture
    }

    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }

    /// Waits for the stream to close, then returns every line.
    pub async fn all_lines(&self) -> Vec<String> {
        wait_until("the log stream to close", || async { self.finished.load(Ordering::SeqCst) }).await;
        self.lines()
    }
}

/// `token-backend` run as a process with exactly the given environment; killed on drop.
#[derive(Debug)]
pub struct BrokerProcess {
    pub base: String,
    pub stderr: LogCapture,
    child: Child,
}

/// How a run of the binary that was expected to fail ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

fn binary(args: &[&str], env: &[(&str, &str)]) -> Command {
    limited_binary(None, args, env)
}

/// The binary, under `prlimit --nofile=N:N` (what `ulimit -n N` sets) when
/// `descriptors` is given: `prlimit` execs it, so the process id is the broker's.
fn limited_binary(descriptors: Option<u64>, args: &[&str], env: &[(&str, &str)]) -> Command {
    let exe = env!("CARGO_BIN_EXE_token-backend");
    let mut command = match descriptors {
        Some(n) => {
            let mut prlimit = Command::new("prlimit");
            prlimit.arg(format!("--nofile={n}:{n}")).arg("--").arg(exe);
            prlimit
        }
        None => Command::new(exe),
    };
    command
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("PUBLIC_DIR", scratch_dir())
        .current_dir(scratch_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

impl BrokerProcess {
    /// Starts the binary and waits for its "listening on" log line (so `RUST_LOG`,
    /// if given, must include `info` for `token_backend`).
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(binary(args, env)).await
    }

    /// As [`Self::start`], with soft and hard descriptor limits of `descriptors`.
    pub async fn start_with_descriptor_limit(descriptors: u64, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(limited_binary(Some(descriptors), args, env)).await
    }

    async fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("spawn token-backend");
        let stderr = LogCapture::start(child.stderr.take().expect("piped stderr"));
        // Stdout is unused; drain it so the child can never block on a full pipe.
        let _stdout = LogCapture::start(child.stdout.take().expect("piped stdout"));
        let mut base = None;
        let deadline = Instant::now() + PATIENCE;
        while base.is_none() {
            base = stderr.lines().iter().find_map(|line| listening_url(line));
            if base.is_none() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("token-backend exited with {status}; stderr:\n{}", stderr.all_lines().await.join("\n"));
                }
                assert!(
                    Instant::now() < deadline,
                    "token-backend did not start; stderr:\n{}",
                    stderr.lines().join("\n")
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Self { base: base.expect("loop exits with an address"), stderr, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id, to signal the process or count its descriptors.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("token-backend is running")
    }

    /// Open descriptors of the process.
    pub fn descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).expect("read /proc/PID/fd").count()
    }

    /// A number from the start-up "descriptor budget" log line (`max_connections`, say).
    pub fn budget(&self, field: &str) -> usize {
        let lines = self.stderr.lines();
        let line = lines.iter().find(|l| l.contains("descriptor budget")).expect("a descriptor budget line");
        let value = line.split(&format!("{field}=")).nth(1).expect("the field in the budget line");
        value.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()).expect("a number")
    }

    /// Waits up to `within` for the process to exit by itself; `None` if it did not.
    pub async fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let waited = tokio::time::timeout(within, self.child.wait()).await.ok()?;
        Some(waited.expect("wait for token-backend"))
    }

    /// Kills the process and returns everything it wrote to stderr.
    pub async fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill().await;
        self.stderr.all_lines().await
    }
}

/// `http://127.0.0.1:PORT` from the "token-backend listening on http://…" line.
fn listening_url(line: &str) -> Option<String> {
    let rest = line.split("listening on http://").nth(1)?;
    let addr: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
    Some(format!("http://{addr}"))
}

/// Runs the binary to completion (it is expected to exit on its own).
pub async fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> Exited {
    let mut child = binary(args, env).spawn().expect("spawn token-backend");
    let stderr = LogCapture::start(child.stderr.take().expect("piped stderr"));
    let stdout = LogCapture::start(child.stdout.take().expect("piped stdout"));
    let status = match tokio::time::timeout(PATIENCE, child.wait()).await {
        Ok(status) => status.expect("wait for token-backend"),
        Err(_) => panic!("token-backend kept running; stderr:\n{}", stderr.lines().join("\n")),
    };
    Exited { status, stdout: stdout.all_lines().await, stderr: stderr.all_lines().await }
}

/// A loopback address nothing listens on (bound, then released).
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}/token")
}
