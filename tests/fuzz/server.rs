//! The server under fuzzing: the real `passlink serve` binary as a child process, its JSON log
//! read line by line, and its resident memory read from /proc.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A `passlink serve` child process with its log; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub address: SocketAddr,
    pub admin_token: String,
    log: Arc<Mutex<Vec<String>>>,
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary on a fresh SQLite database (or on `database_url`), listening on a
    /// port the OS picks, and waits until its log names that port.
    pub fn start(database_url: Option<&str>) -> ServerProcess {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut command = Command::new(env!("CARGO_BIN_EXE_passlink"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir.path())
            // send_link requests queue mail; the worker stays off.
            .arg("--mail-dir")
            .arg(data_dir.path().join("mail"))
            .args(["--outbox-worker", "false"])
            .args([
                "--log-format",
                "json",
                "--log-level",
                "warn,passlink::app=info",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(database_url) = database_url {
            command.args(["--database-url", database_url]);
        }
        // passlink refuses PASSLINK_* variables it does not know, such as the tests' own.
        for (name, _) in std::env::vars() {
            if name.starts_with("PASSLINK_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("start the passlink binary");
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (found, address) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            let mut found = Some(found);
            // Reads the log to its end, so that the pipe never fills.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(sender) = found.as_ref() {
                    let listen = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .and_then(|record| record["fields"]["listen"].as_str().map(str::to_owned));
                    if let Some(listen) = listen {
                        let _ = sender.send(listen.parse::<SocketAddr>().unwrap());
                        found = None;
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(60))
            .expect("passlink logs its address within 60 s");
        let admin_token = std::fs::read_to_string(data_dir.path().join("admin.pat"))
            .expect("the first start writes admin.pat")
            .trim()
            .to_owned();
        ServerProcess {
            child,
            address,
            admin_token,
            log,
            _data_dir: data_dir,
        }
    }

    /// The resident set size of the process, in KiB, from /proc/PID/status.
    pub fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server process is alive");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Log lines at level ERROR, and any line that tells of a panic.
    pub fn errors_and_panics(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains("\"level\":\"ERROR\"") || line.contains("panicked"))
            .cloned()
            .collect()
    }

    /// How many log lines are at level WARN (reported, not failures).
    pub fn warning_count(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains("\"level\":\"WARN\""))
            .count()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
