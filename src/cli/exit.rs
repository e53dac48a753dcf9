//! How a command ends: the one list of exit statuses, and what a command that ran to its end
//! reports ([`Finished`]). Errors are `CliError` (`cli/error.rs`); `main` maps both to a status here.

/// Every exit status of nylas-migrate. `--help`, the man page's EXIT STATUS and the README's
/// "Exit codes" are written from (or checked against) this list.
///
/// Like Terraform, one code for every error; 2 is only `plan --detailed-exitcode`'s "changes
/// pending", so that a pipeline can tell it from any failure; usage errors are `EX_USAGE` of
/// sysexits(3), and a run stopped by a signal exits as a shell reports it (128 + the signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success: plans valid, nothing to do, everything done.
    Success,
    /// An error: an invalid plan, a missing secret, an API error, a conflict, a failed step.
    Error,
    /// `plan --detailed-exitcode`: changes are pending.
    ChangesPending,
    /// `apply` stopped following a wave whose jobs still run at Nylas (`--wait`), and nothing
    /// failed: `apply` again follows them.
    JobsRunning,
    /// The command line is wrong: an unknown command or flag, a missing argument, a bad value.
    Usage,
    /// Stopped by SIGINT (Ctrl-C).
    Interrupted,
    /// Stopped by SIGTERM.
    Terminated,
}

impl ExitStatus {
    /// Every status, in the order they are documented.
    pub const ALL: [ExitStatus; 7] = [
        ExitStatus::Success,
        ExitStatus::Error,
        ExitStatus::ChangesPending,
        ExitStatus::JobsRunning,
        ExitStatus::Usage,
        ExitStatus::Interrupted,
        ExitStatus::Terminated,
    ];

    /// The process's exit code.
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Error => 1,
            ExitStatus::ChangesPending => 2,
            ExitStatus::JobsRunning => 3,
            ExitStatus::Usage => 64,
            ExitStatus::Interrupted => 130,
            ExitStatus::Terminated => 143,
        }
    }

    /// What the status means, in one line, for `--help` and the man page (the README says
    /// the same at more length).
    pub const fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => "success: plans valid, nothing to do, everything done",
            ExitStatus::Error => {
                "error (on stderr): invalid plan, missing secret, API error, conflict, failed step"
            }
            ExitStatus::ChangesPending => "plan --detailed-exitcode: changes pending (only then)",
            ExitStatus::JobsRunning => {
                "apply --wait ran out: waves still run at Nylas; apply again follows them"
            }
            ExitStatus::Usage => "usage error: unknown command or flag, missing or bad argument",
            ExitStatus::Interrupted => "apply stopped by Ctrl-C (SIGINT); apply again resumes",
            ExitStatus::Terminated => "apply stopped by SIGTERM; apply again resumes",
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

/// The "Exit codes:" text of `--help`, from [`ExitStatus::ALL`].
pub fn help_text() -> String {
    let mut text = String::from("Exit codes:");
    for status in ExitStatus::ALL {
        text.push_str(&format!("\n  {:<3}  {}", status.code(), status.meaning()));
    }
    text
}

/// The signal that stopped a run (its JSON name is the `interrupted` event's `signal`).
pub use crate::events::Signal;

/// How a command that ran to its end came out; its output already said the details. Errors
/// that stop a command are `CliError`s (`cli/error.rs`) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Everything is as asked: valid, nothing to do, done, every item passes.
    Clean,
    /// `plan --detailed-exitcode`: changes are pending.
    ChangesPending,
    /// The command ran and reported failures itself (failed steps, a conflict, a failed verify
    /// item, an incomplete translate, an invalid plan in JSON output).
    WithFailures,
    /// Stopped by a signal after saying what finished.
    Stopped(Signal),
    /// `apply` left waves running at Nylas at its `--wait` bound, and nothing failed.
    JobsRunning,
}

impl Finished {
    pub fn exit_status(self) -> ExitStatus {
        match self {
            Finished::Clean => ExitStatus::Success,
            Finished::ChangesPending => ExitStatus::ChangesPending,
            Finished::WithFailures => ExitStatus::Error,
            Finished::JobsRunning => ExitStatus::JobsRunning,
            Finished::Stopped(Signal::Interrupt) => ExitStatus::Interrupted,
            Finished::Stopped(Signal::Terminate) => ExitStatus::Terminated,
        }
    }

    /// `Clean` when `ok`, else `WithFailures`.
    pub fn clean_if(ok: bool) -> Finished {
        if ok {
            Finished::Clean
        } else {
            Finished::WithFailures
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_signals_exit_as_a_shell_reports_them() {
        let codes: std::collections::HashSet<u8> =
            ExitStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes.len(), ExitStatus::ALL.len());
        // 128 + SIGINT (2), 128 + SIGTERM (15).
        assert_eq!(
            Finished::Stopped(Signal::Interrupt).exit_status().code(),
            128 + 2
        );
        assert_eq!(
            Finished::Stopped(Signal::Terminate).exit_status().code(),
            128 + 15
        );
        let help = help_text();
        for status in ExitStatus::ALL {
            assert!(
                help.contains(&format!("\n  {:<3}  ", status.code())),
                "{help}"
            );
            // One line each, so that clap does not wrap them under the code.
            assert!(status.meaning().len() <= 88, "{}", status.meaning());
        }
    }
}
