//! Writing results to stdout without ever panicking.
//!
//! `println!` panics when stdout is a closed pipe (`ferrolb validate -o json | head`); a
//! closed pipe simply means the reader has what it wanted.

use std::io::{self, Write};
use std::process::ExitCode;

/// Writes `text` to stdout. A closed pipe ends quietly with success; any other write error
/// is reported and gives exit code 2.
pub fn emit(text: &str) -> Result<(), ExitCode> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            Err(ExitCode::from(2))
        }
    }
}
