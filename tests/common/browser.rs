//! What the browser tests share: where Chromium and the page drivers are, whether they can run,
//! and a page driver (`node web/tests/<script>`) that reports JSON lines and waits on its
//! standard input between steps.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The Chromium binary: `PASSLINK_TEST_CHROMIUM`, else Debian's `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    std::env::var_os("PASSLINK_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// The repository's `web/` directory (pages, bundles and their drivers).
pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Why the browser tests cannot run here, if they cannot.
pub fn missing_tools() -> Option<String> {
    if !chromium().exists() {
        return Some(format!(
            "{} is missing (apt-get install chromium)",
            chromium().display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !web_dir().join("node_modules/playwright-core").exists() {
        return Some("web/node_modules is missing (run npm ci in web/)".into());
    }
    None
}

/// `target/tmp/browser-screenshots`, created.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A page driver, `node web/tests/<script> <chromium> <args…>`: it prints one JSON line per
/// event and, where it waits, goes on after one line on its standard input.
pub struct PageDriver {
    child: tokio::process::Child,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl PageDriver {
    /// Starts `web/tests/<script>` with Chromium's path and `args`.
    pub fn start<I, S>(script: &str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_with_chromium_args(script, args, &[])
    }

    /// As `start`, with `chromium_args` added to Chromium's command line (by the drivers that
    /// read `PASSLINK_TEST_CHROMIUM_ARGS`).
    pub fn start_with_chromium_args<I, S>(script: &str, args: I, chromium_args: &[String]) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = tokio::process::Command::new("node")
            .env("PASSLINK_TEST_CHROMIUM_ARGS", chromium_args.join(" "))
            .arg(web_dir().join("tests").join(script))
            .arg(chromium())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run node");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, stdout }
    }

    /// The driver's next JSON line; fails the test with its error output when it ends instead.
    pub async fn next_event(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(120), self.stdout.next_line())
            .await
            .expect("the page driver answers within two minutes")
            .expect("read the driver's output");
        match line {
            Some(line) => serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not JSON from the driver ({error}): {line}")),
            None => {
                let status = self.child.wait().await.unwrap();
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    pipe.read_to_string(&mut stderr).await.unwrap();
                }
                panic!("the page driver failed ({status}):\n{stderr}");
            }
        }
    }

    /// The next event, which must be `name`.
    pub async fn expect_event(&mut self, name: &str) -> Value {
        let event = self.next_event().await;
        assert_eq!(event["event"], name, "the driver's next step: {event}");
        event
    }

    /// Lets a driver waiting after an event go on.
    pub async fn resume(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("the driver's stdin");
        stdin.write_all(b"go on\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Closes the driver's standard input (ending any wait), reads its final line and waits
    /// for it to exit successfully.
    pub async fn finish(mut self) -> Value {
        drop(self.child.stdin.take());
        let outcome = self.next_event().await;
        let status = self.child.wait().await.unwrap();
        assert!(status.success(), "the page driver exited with {status}");
        outcome
    }
}
