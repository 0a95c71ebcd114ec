//! Captures what the in-process server logs while a test runs, as JSON lines. The capture is
//! the thread's default subscriber, so it sees the server only on a current-thread runtime
//! (plain `#[tokio::test]`), where the server's tasks run on the test's own thread.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Everything logged on this thread from `start` until the capture is dropped.
pub struct LogCapture {
    lines: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'writer> MakeWriter<'writer> for SharedBuffer {
    type Writer = SharedBuffer;

    fn make_writer(&'writer self) -> SharedBuffer {
        self.clone()
    }
}

impl LogCapture {
    /// Starts capturing every record at INFO and above.
    pub fn start() -> LogCapture {
        LogCapture::start_at(tracing::Level::INFO)
    }

    /// Starts capturing every record at `level` and above.
    pub fn start_at(level: tracing::Level) -> LogCapture {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(level)
            .with_writer(SharedBuffer(lines.clone()))
            .finish();
        LogCapture {
            lines,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// The captured lines at level ERROR, or that tell of a panic.
    pub fn errors_and_panics(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        String::from_utf8_lossy(&lines)
            .lines()
            .filter(|line| line.contains("\"level\":\"ERROR\"") || line.contains("panicked"))
            .map(str::to_owned)
            .collect()
    }

    /// Asserts that nothing was logged at level ERROR and no panic was logged.
    pub fn assert_no_errors(&self) {
        let errors = self.errors_and_panics();
        assert!(
            errors.is_empty(),
            "bad input must not log errors: {errors:#?}"
        );
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap()).into_owned()
    }

    /// How many lines were captured (to show the capture works).
    pub fn line_count(&self) -> usize {
        String::from_utf8_lossy(&self.lines.lock().unwrap())
            .lines()
            .count()
    }
}
