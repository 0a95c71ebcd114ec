//! `passlink` as a child process (the real binary): `serve` for tests that kill it, run several
//! on one database or measure its memory apart from the test's own, and operator commands.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The log level of a started process unless a test asks for another.
const DEFAULT_LOG_LEVEL: &str = "warn,passlink::app=info";

/// The `passlink` binary, without the test's own `PASSLINK_*` variables (passlink refuses
/// variables it does not know).
fn passlink_binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passlink"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PASSLINK_") {
            command.env_remove(name);
        }
    }
    command
}

/// A `passlink serve` child process with its JSON log; killed when dropped.
pub struct PasslinkProcess {
    pub child: Child,
    pub address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl PasslinkProcess {
    /// Starts the real binary with its data in `data_dir`, listening on a port the OS picks,
    /// with `arguments` added to `serve`, and waits until its log names that port.
    pub fn start<Argument: AsRef<OsStr>>(
        data_dir: &Path,
        arguments: &[Argument],
    ) -> PasslinkProcess {
        PasslinkProcess::start_logging(data_dir, DEFAULT_LOG_LEVEL, arguments)
    }

    /// The same, logging at `log_level` (a `--log-level` filter).
    pub fn start_logging<Argument: AsRef<OsStr>>(
        data_dir: &Path,
        log_level: &str,
        arguments: &[Argument],
    ) -> PasslinkProcess {
        let mut child = passlink_binary()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(arguments)
            .args(["--log-format", "json", "--log-level", log_level])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the passlink binary");
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let lines = log.clone();
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            // Reads the log to its end, so that the pipe never fills.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let listen = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|record| record["fields"]["listen"].as_str().map(str::to_owned));
                if let (Some(listen), Some(sender)) = (listen, found.as_ref()) {
                    let _ = sender.send(listen.parse::<SocketAddr>().unwrap());
                    found = None;
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "passlink did not log its address within 60 s:\n{}",
                    log.lock().unwrap().join("\n")
                )
            });
        PasslinkProcess {
            child,
            address,
            log,
        }
    }

    /// A gRPC client of the user service on a new connection.
    pub async fn client(&self) -> super::GrpcClient {
        super::grpc_client_at(self.address).await
    }

    /// The process's log lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process with SIGKILL (no shutdown code runs) and waits for it.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL passlink");
        self.child.wait().unwrap();
    }

    /// The process's resident memory (`VmRSS` in `/proc/PID/status`), in bytes.
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status of passlink");
        let kilobytes = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .expect("a VmRSS line");
        kilobytes * 1024
    }
}

impl Drop for PasslinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an operator command of the `passlink` binary; returns its standard output and error,
/// and fails the test when the command fails.
pub fn passlink_command<Argument: AsRef<OsStr>>(arguments: &[Argument]) -> (String, String) {
    let output = passlink_binary()
        .args(arguments)
        .output()
        .expect("run the passlink binary");
    let printed = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    assert!(
        output.status.success(),
        "passlink {:?} failed: {}",
        arguments
            .iter()
            .map(|argument| argument.as_ref().to_string_lossy())
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(&output.stderr)
    );
    (printed(output.stdout), printed(output.stderr))
}

/// Runs an operator command of the `passlink` binary that may fail; returns its output.
pub fn passlink_output<Argument: AsRef<OsStr>>(arguments: &[Argument]) -> std::process::Output {
    passlink_binary()
        .args(arguments)
        .output()
        .expect("run the passlink binary")
}

/// A database for child processes; a PostgreSQL one is dropped with this value.
pub struct ProcessDatabase {
    pub url: String,
}

impl Drop for ProcessDatabase {
    fn drop(&mut self) {
        super::drop_postgres_database(&self.url);
    }
}

/// A fresh database for child processes: a new PostgreSQL database when
/// `PASSLINK_TEST_POSTGRES_URL` is set, else a SQLite file in `directory`. Declare it before
/// the processes, so that it is dropped after them.
pub async fn fresh_database(directory: &Path) -> ProcessDatabase {
    let url = match super::fresh_postgres_database().await {
        Some(url) => url,
        None => sqlite_file_url(directory, "shared.db"),
    };
    ProcessDatabase { url }
}

/// The URL of the SQLite file `name` in `directory`, created at first use.
pub fn sqlite_file_url(directory: &Path, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", directory.join(name).display())
}

/// A fresh PostgreSQL database for child processes; fails the test when
/// `PASSLINK_TEST_POSTGRES_URL` names no server.
pub async fn postgres_database() -> ProcessDatabase {
    let url = super::fresh_postgres_database()
        .await
        .expect("this test needs PostgreSQL: set PASSLINK_TEST_POSTGRES_URL");
    ProcessDatabase { url }
}
