//! Subprocesses for ringloop: [`Command`] (as `std::process::Command`),
//! [`Child`] with its pipes as ringloop streams, and asyncio's
//! [`create_subprocess_exec`] / [`create_subprocess_shell`].
//!
//! ```no_run
//! use ringloop_process::{Command, Stdio};
//! ringloop_runtime::run(async {
//!     let mut child = Command::new("sort").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
//!     let out = child.communicate("b\na\n").await.unwrap();
//!     assert_eq!(out.stdout, b"a\nb\n");
//!     assert!(out.status.success());
//! });
//! ```
//!
//! # How it works
//! - A child's pipes are ordinary pipes read and written with READ and
//!   WRITE ops: its stdout and stderr are
//!   [`Reader`](ringloop_net::Reader)s (`read`, `read_line`, `read_until`,
//!   `read_to_end`, ...) and its stdin a [`ChildStdin`]. A write to a
//!   child that closed its stdin fails with `BrokenPipe` (Rust programs
//!   ignore SIGPIPE, so the error is all that happens).
//! - The exit is watched through a pidfd: an IORING_OP_WAITID (Linux 6.7)
//!   where the ring's probe has it, else a POLL_ADD on the pidfd and then a
//!   non-blocking `waitid`. Signals go through the pidfd too, so they never
//!   reach a recycled pid.
//! - No zombies: a [`Child`] dropped before it was waited for is reaped in
//!   the background (a task on the runtime, or a thread outside one or if
//!   the runtime ends first); with [`Command::kill_on_drop`] it is killed
//!   first.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod child;
mod command;

pub use child::{Child, ChildStderr, ChildStdin, ChildStdout, Input};
pub use command::{Command, Stdio};
pub use std::process::{ExitStatus, Output};

/// Starts `program` with `args`, with stdin, stdout and stderr piped (as
/// asyncio's `create_subprocess_exec(program, *args, stdin=PIPE,
/// stdout=PIPE, stderr=PIPE)`). Use [`Command`] for other choices.
///
/// # Errors
/// The program cannot be started (`NotFound` naming it, ...).
pub fn create_subprocess_exec<I, S>(
    program: impl AsRef<std::ffi::OsStr>,
    args: I,
) -> std::io::Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// Runs `cmd` with `/bin/sh -c`, with stdin, stdout and stderr piped (as
/// asyncio's `create_subprocess_shell`).
///
/// # Errors
/// `/bin/sh` cannot be started.
pub fn create_subprocess_shell(cmd: impl AsRef<std::ffi::OsStr>) -> std::io::Result<Child> {
    create_subprocess_exec("/bin/sh", [std::ffi::OsStr::new("-c"), cmd.as_ref()])
}
