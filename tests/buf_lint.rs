//! The protobuf module passes `buf lint` (STANDARD rules with the exceptions listed in buf.yaml).

mod common;

use std::process::Command;

#[test]
fn protos_pass_buf_lint() {
    let buf = std::env::var("BUF").unwrap_or_else(|_| "buf".into());
    let cache = tempfile::tempdir().unwrap();
    let output = match Command::new(&buf)
        .arg("lint")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BUF_CACHE_DIR", cache.path())
        .output()
    {
        Ok(output) => output,
        Err(error) if !common::required_by_ci() => {
            eprintln!(
                "SKIPPED: buf is not installed ({error}); `npm install -g @bufbuild/buf@1.75.0`"
            );
            return;
        }
        Err(error) => panic!("CI needs buf: {error}"),
    };
    assert!(
        output.status.success(),
        "buf lint failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
