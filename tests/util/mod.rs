//! Helpers shared by the facade's integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// Env var naming the test a child process was started to run.
const CHILD_VAR: &str = "RINGLOOP_TEST_CHILD";

/// Whether this process is a child started by [`run_child`] for `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD_VAR).is_ok_and(|v| v == test)
}

/// Runs the single test `test` of this test binary in a child process (with
/// `env` added) and returns its output, for behaviour that ends or reports
/// on the process level (stderr reports, aborts).
pub fn run_child(test: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, test)
        .envs(env.iter().copied())
        .output()
        .expect("spawn the test binary as a child")
}

/// A one-value channel whose sender works from any thread: the receiver is
/// a future woken through its (Send + Sync) waker.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new((None, None)));
    (Sender(shared.clone()), Receiver(shared))
}

type Slot<T> = Arc<Mutex<(Option<T>, Option<Waker>)>>;

pub struct Sender<T>(Slot<T>);
pub struct Receiver<T>(Slot<T>);

impl<T> Sender<T> {
    pub fn send(self, value: T) {
        let waker = {
            let mut slot = self.0.lock().unwrap();
            slot.0 = Some(value);
            slot.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    pub async fn recv(self) -> T {
        std::future::poll_fn(|cx| {
            let mut slot = self.0.lock().unwrap();
            match slot.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    slot.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// Sets a flag when dropped: shows that a future was dropped (cancelled).
pub struct DropFlag(pub std::rc::Rc<std::cell::Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// The text of a panic payload (`&str` for constant messages, else `String`).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
