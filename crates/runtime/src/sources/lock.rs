//! Controller election on the `dir:` source: an exclusive `flock` on the state directory's
//! lock file.
//!
//! The kernel releases the lock the instant its holder dies, however it dies (`kill -9`
//! included), so a waiting process takes over at once; no lease timer is needed on one host.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

/// Holds the controller role until dropped (or the process exits).
#[derive(Debug)]
pub struct Leadership {
    _lock: Flock<File>,
}

/// Takes the lock only if it is free right now.
pub fn try_acquire(path: &Path) -> io::Result<Option<Leadership>> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(Leadership { _lock: lock })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(io::Error::from(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_holder_at_a_time_and_release_on_drop() {
        let path = std::env::temp_dir().join(format!("ferrolb-leader-{}.lock", std::process::id()));
        let first = try_acquire(&path).unwrap().expect("free at first");
        assert!(try_acquire(&path).unwrap().is_none(), "a second holder is refused");
        drop(first);
        assert!(try_acquire(&path).unwrap().is_some(), "free again after the holder lets go");
    }
}
