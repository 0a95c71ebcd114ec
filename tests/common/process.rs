//! `passlink serve` as a child process (the real binary), for tests that kill it or measure
//! its memory apart from the test's own.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use passlink::pb::zitadel::user::v2 as user_pb;
use tonic::transport::Channel;

/// A `passlink serve` child process; killed when dropped.
pub struct PasslinkProcess {
    pub child: Child,
    pub address: SocketAddr,
}

impl PasslinkProcess {
    /// Starts the real binary with its data in `data_dir`, listening on a port the OS picks,
    /// with `arguments` added to `serve`, and waits until its log names that port.
    pub fn start<Argument: AsRef<OsStr>>(
        data_dir: &Path,
        arguments: &[Argument],
    ) -> PasslinkProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_passlink"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(arguments)
            .args([
                "--log-format",
                "json",
                "--log-level",
                "warn,passlink::app=info",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // passlink refuses PASSLINK_* variables it does not know, such as the test's own.
        for (name, _) in std::env::vars() {
            if name.starts_with("PASSLINK_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("start the passlink binary");
        let stderr = child.stderr.take().unwrap();
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            // Reads the log to the end, so that the pipe never fills.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let listen = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|record| record["fields"]["listen"].as_str().map(str::to_owned));
                match (listen, found.as_ref()) {
                    (Some(listen), Some(sender)) => {
                        let _ = sender.send(listen.parse::<SocketAddr>().unwrap());
                        found = None;
                    }
                    _ => eprintln!("passlink: {line}"),
                }
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(60))
            .expect("passlink logs its address within 60 s");
        PasslinkProcess { child, address }
    }

    /// A gRPC client of the user service on a new connection.
    pub async fn client(&self) -> user_pb::user_service_client::UserServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .expect("connect over gRPC");
        user_pb::user_service_client::UserServiceClient::new(channel)
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
