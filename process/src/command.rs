//! [`Command`] and [`Stdio`].

use crate::child::Child;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Where a child's standard stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stdio(Kind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Piped,
    Null,
    Inherit,
}

impl Stdio {
    /// A pipe to this process: the child's `stdin`/`stdout`/`stderr` field.
    pub fn piped() -> Stdio {
        Stdio(Kind::Piped)
    }
    /// `/dev/null`.
    pub fn null() -> Stdio {
        Stdio(Kind::Null)
    }
    /// This process's own stream.
    pub fn inherit() -> Stdio {
        Stdio(Kind::Inherit)
    }
    pub(crate) fn kind(self) -> Kind {
        self.0
    }
}

/// A process to start, as `std::process::Command`: program, arguments,
/// environment, working directory and standard streams. Standard streams
/// are inherited unless set (as std's `spawn`).
#[derive(Debug, Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    /// Environment changes in order: `None` removes the variable.
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
    pub(crate) stdin: Option<Stdio>,
    pub(crate) stdout: Option<Stdio>,
    pub(crate) stderr: Option<Stdio>,
    pub(crate) kill_on_drop: bool,
}

impl Command {
    /// A command for `program` (looked up in `PATH` unless it has a `/`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            kill_on_drop: false,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .push((key.as_ref().to_owned(), Some(val.as_ref().to_owned())));
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's standard input.
    pub fn stdin(&mut self, cfg: Stdio) -> &mut Command {
        self.stdin = Some(cfg);
        self
    }

    /// The child's standard output.
    pub fn stdout(&mut self, cfg: Stdio) -> &mut Command {
        self.stdout = Some(cfg);
        self
    }

    /// The child's standard error.
    pub fn stderr(&mut self, cfg: Stdio) -> &mut Command {
        self.stderr = Some(cfg);
        self
    }

    /// Kill the child (SIGKILL) if its [`Child`] is dropped before it was
    /// waited for. Either way a dropped child is reaped in the background.
    pub fn kill_on_drop(&mut self, on: bool) -> &mut Command {
        self.kill_on_drop = on;
        self
    }

    /// The program's name, for messages.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// A std command with everything but the standard streams.
    pub(crate) fn to_std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Starts the process. Streams not set are inherited.
    ///
    /// # Errors
    /// The program cannot be started: `NotFound` (the message names the
    /// program), `PermissionDenied`, ...
    ///
    /// # Panics
    /// Outside a ringloop runtime.
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::spawn(self, Stdio::inherit())
    }

    /// Runs the process to its end, with stdout and stderr captured and
    /// stdin from `/dev/null` unless set (as std's `output`); never
    /// deadlocks on full pipes.
    ///
    /// # Errors
    /// The program cannot be started, or reading its output fails.
    pub async fn output(&mut self) -> io::Result<Output> {
        let mut cmd = self.clone();
        cmd.stdin.get_or_insert(Stdio::null());
        cmd.stdout.get_or_insert(Stdio::piped());
        cmd.stderr.get_or_insert(Stdio::piped());
        cmd.spawn()?.communicate(None).await
    }

    /// Runs the process to its end (streams inherited unless set) and
    /// returns its exit status.
    ///
    /// # Errors
    /// The program cannot be started.
    pub async fn status(&mut self) -> io::Result<std::process::ExitStatus> {
        self.spawn()?.wait().await
    }
}
