//! Writing to stdout, and what happens when stdout goes away.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe or socket is an ordinary `EPIPE` error. That
//! must stay so for sockets: an API connection whose peer went away is an error to report (with a
//! summary, the journal's run closed), never a silent death. Only stdout is special: when the
//! reader of `nylas-migrate graph plan.yaml | head` exits, the command ends quietly, as other
//! Unix tools do (killed by SIGPIPE, which shells do not report). Every write of the commands to
//! stdout goes through [`write_stdout`] (the `outln!` and `out!` macros) for that.

use std::fmt;
use std::io::{ErrorKind, Write};

/// Writes formatted text to stdout; a closed stdout ends the process quietly, another write
/// error ends it with a message and exit code 1.
pub fn write_stdout(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_fmt(args) {
        stdout_failed(&err);
    }
}

/// Writes bytes to stdout, flushing them, with the same rules as [`write_stdout`].
pub fn write_stdout_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_all(bytes).and_then(|()| out.flush()) {
        stdout_failed(&err);
    }
}

/// Flushes stdout (before a prompt), with the same rules as [`write_stdout`].
pub fn flush_stdout() {
    if let Err(err) = std::io::stdout().lock().flush() {
        stdout_failed(&err);
    }
}

/// Whether an I/O error means the reader of a pipe went away.
pub fn is_closed_pipe(err: &std::io::Error) -> bool {
    err.kind() == ErrorKind::BrokenPipe
}

fn stdout_failed(err: &std::io::Error) -> ! {
    if is_closed_pipe(err) {
        end_quietly();
    }
    // Not a closed pipe: a full disk, a device error. The output is incomplete, say so, with
    // the status of every error (stdout is written from everywhere, so this one ends here).
    errln!("error: cannot write to stdout: {err}");
    std::process::exit(i32::from(super::ExitStatus::Error.code()));
}

/// Ends the process the way a Unix tool ends when its stdout is a closed pipe: killed by
/// SIGPIPE, which shells treat as a quiet end (and `set -o pipefail` still sees).
fn end_quietly() -> ! {
    #[cfg(unix)]
    // SAFETY: SIG_DFL is always a valid disposition; raising a signal is async-signal-safe.
    // With the default action restored, SIGPIPE ends the process here; nothing runs after it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    // Not reached on Unix; elsewhere, the same quiet end without the signal.
    std::process::exit(0);
}

/// `println!` for the commands' stdout: see [`write_stdout`].
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the commands' stdout: see [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($arg)*))
    };
}

pub(crate) use {out, outln};
