//! The protobuf module passes `buf lint` (STANDARD rules with the exceptions listed in buf.yaml).
//! Ignored by a plain `cargo test` (it needs buf); `cargo test -- --include-ignored` runs it,
//! and it fails when buf is missing.

use std::process::Command;

#[test]
#[ignore = "needs buf on PATH (npm install -g @bufbuild/buf@1.75.0)"]
fn protos_pass_buf_lint() {
    let buf = std::env::var("BUF").unwrap_or_else(|_| "buf".into());
    let cache = tempfile::tempdir().unwrap();
    let output = Command::new(&buf)
        .arg("lint")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BUF_CACHE_DIR", cache.path())
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {buf} ({error}): npm install -g @bufbuild/buf@1.75.0")
        });
    assert!(
        output.status.success(),
        "buf lint failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
