//! A scratch network namespace for tests that need real sockets on fixed ports or keys on a
//! loopback: created with `ip netns add`, entered by a thread of its own, deleted on drop.
//! Nothing a test does inside touches the host's interfaces (the lab's network-safety rule).
//! Root only: without root, [`Netns::create`] says why and returns `None`, and the test
//! skips.
#![cfg(target_os = "linux")]

use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A network namespace this process created; deleted when dropped.
#[derive(Debug)]
pub struct Netns(String);

impl Netns {
    /// A fresh namespace named `<prefix>-<pid>-<n>` with its loopback up, or `None` (with the
    /// reason on stderr) when not root or `ip netns` fails. `why` names the test in the message.
    pub fn create(prefix: &str, why: &str) -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: {why} needs root for its network namespace");
            return None;
        }
        let name = format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let ok = |args: &[&str]| Command::new("ip").args(args).status().is_ok_and(|s| s.success());
        if !ok(&["netns", "add", &name]) {
            eprintln!("skipped: {why}: cannot create a network namespace");
            return None;
        }
        let ns = Self(name);
        if !ok(&["-n", &ns.0, "link", "set", "lo", "up"]) {
            eprintln!("skipped: {why}: cannot bring up the namespace's loopback");
            return None;
        }
        Some(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Runs `f` on a thread that has entered the namespace, with its own tokio runtime.
    pub fn run<T: Send + 'static>(&self, f: impl AsyncFnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let file = std::fs::File::open(path).expect("the namespace exists while Netns lives");
            nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns as root");
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime").block_on(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).status();
    }
}
