//! The `cat_file` and `subprocess` examples as a user runs them.

#[path = "util/examples.rs"]
mod examples;

use examples::example_bin;
use std::process::Command;

#[test]
fn cat_file_copies_and_names_missing_paths() {
    let Some(bin) = example_bin("cat_file") else {
        eprintln!("skipping: the cat_file example is not built (run the whole `cargo test`)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("ringloop-cat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 239) as u8).collect();
    std::fs::write(&a, &big).unwrap();
    std::fs::write(&b, b"tail\n").unwrap();
    let missing = dir.join("missing");
    let out = Command::new(&bin)
        .args([&a, &missing, &b])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut want = big;
    want.extend_from_slice(b"tail\n");
    assert!(out.stdout == want, "cat_file copied other bytes");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing.display().to_string()), "{err}");
}

#[test]
fn subprocess_streams_lines_and_kills_at_the_timeout() {
    let Some(bin) = example_bin("subprocess") else {
        eprintln!("skipping: the subprocess example is not built (run the whole `cargo test`)");
        return;
    };
    let out = Command::new(&bin)
        .args(["--", "sh", "-c", "echo one; echo two >&2; exit 4"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("out: one") && text.contains("err: two"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(4));
    let out = Command::new(&bin)
        .args(["--timeout", "0.3", "--", "sleep", "30"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SIGKILL"));
    let out = Command::new(&bin)
        .args(["--", "/nonexistent/cmd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cmd"));
}
