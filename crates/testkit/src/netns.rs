//! A scratch network namespace for tests that need real sockets on fixed ports or keys on a
//! loopback: created with `ip netns add`, entered by a thread of its own, deleted on drop.
//! Nothing a test does inside touches the host's interfaces (the lab's network-safety rule).
//!
//! Root only. Tests that need it live in a module named `needs_root`, which the test command
//! leaves out when it does not run as root, so the runner counts them as skipped; a test that
//! runs anyway without root fails and says why (it never passes having done nothing).

use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A network namespace this process created; deleted when dropped.
#[derive(Debug)]
pub struct Netns(String);

impl Netns {
    /// A fresh namespace named `<prefix>-<pid>-<n>` with its loopback up. Panics, saying
    /// why, when not root or when `ip netns` fails.
    pub fn create(prefix: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        require_root();
        let name = format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let ok = |args: &[&str]| Command::new("ip").args(args).status().is_ok_and(|s| s.success());
        assert!(ok(&["netns", "add", &name]), "cannot create the network namespace {name} (`ip netns add`)");
        let ns = Self(name);
        assert!(ok(&["-n", &ns.0, "link", "set", "lo", "up"]), "cannot bring up the loopback of {}", ns.0);
        ns
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

/// Fails the test unless it runs as root: a root-only test that cannot do its work must not
/// pass. (Run as root, or leave the `needs_root` tests out; `scripts/test.sh` does that for
/// other users.)
pub fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test needs root (network namespaces); run it as root, or filter out `needs_root` tests"
    );
}
