//! The server under fuzzing: the real `passlink serve` binary as a child process
//! (`common::process`), its JSON log read line by line, and its resident memory.

use std::net::SocketAddr;

use super::common::process::PasslinkProcess;

/// A `passlink serve` child process with its data directory and admin token; killed when
/// dropped.
pub struct ServerProcess {
    process: PasslinkProcess,
    pub address: SocketAddr,
    pub admin_token: String,
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary on a fresh SQLite database (or on `database_url`), listening on a
    /// port the OS picks, and waits until its log names that port.
    pub fn start(database_url: Option<&str>) -> ServerProcess {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mail_dir = data_dir.path().join("mail");
        // send_link requests queue mail; the worker stays off.
        let mut arguments = vec![
            "--mail-dir",
            mail_dir.to_str().unwrap(),
            "--outbox-worker",
            "false",
        ];
        if let Some(database_url) = database_url {
            arguments.extend(["--database-url", database_url]);
        }
        let process = PasslinkProcess::start(data_dir.path(), &arguments);
        let admin_token = std::fs::read_to_string(data_dir.path().join("admin.pat"))
            .expect("the first start writes admin.pat")
            .trim()
            .to_owned();
        ServerProcess {
            address: process.address,
            process,
            admin_token,
            _data_dir: data_dir,
        }
    }

    /// The resident set size of the process, in KiB.
    pub fn resident_kib(&self) -> u64 {
        self.process.resident_bytes() / 1024
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Log lines at level ERROR, and any line that tells of a panic.
    pub fn errors_and_panics(&self) -> Vec<String> {
        self.process
            .log_lines()
            .into_iter()
            .filter(|line| line.contains("\"level\":\"ERROR\"") || line.contains("panicked"))
            .collect()
    }

    /// How many log lines are at level WARN (reported, not failures).
    pub fn warning_count(&self) -> usize {
        self.process
            .log_lines()
            .iter()
            .filter(|line| line.contains("\"level\":\"WARN\""))
            .count()
    }
}
