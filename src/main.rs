use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    nylas_migrate::cli::main()
}

/// Rust ignores SIGPIPE, which turns `nylas-migrate graph plan.yaml | head` into a panic on the
/// first write after `head` exits. A command-line tool should end quietly instead, as other
/// Unix tools do: restore the default action.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
