//! The one wording of a batch clone's counts: `34 migrated, 4 placeholders, 0 failed`, with
//! `1 placeholder` in the singular. Every command that says it (`apply`'s progress and
//! summary, `plan`, `status`, `verify`, the demo) says it through [`Tally`].

use std::fmt;

use crate::api::MigrationJob;

use crate::state::journal::JobCounts;

/// A migration job's accounts, as Nylas counts them: migrated (`count_success`), given a
/// placeholder grant (`count_warning`: the user must re-authenticate) and failed, of all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub all: u64,
    pub migrated: u64,
    pub placeholders: u64,
    pub failed: u64,
}

impl Tally {
    /// `34 of 38 migrated, 4 placeholders, 0 failed`: how a finished wave is described.
    pub fn of_all(&self) -> String {
        format!(
            "{} of {} migrated, {}, {} failed",
            self.migrated,
            self.all,
            placeholders(self.placeholders),
            self.failed
        )
    }

    /// `34 migrated, 4 placeholders, 0 failed of 38`: how a job's progress is described.
    pub fn out_of_all(&self) -> String {
        format!("{self} of {}", self.all)
    }
}

/// `34 migrated, 4 placeholders, 0 failed`.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} migrated, {}, {} failed",
            self.migrated,
            placeholders(self.placeholders),
            self.failed
        )
    }
}

impl From<&MigrationJob> for Tally {
    fn from(job: &MigrationJob) -> Tally {
        Tally {
            all: job.count_all,
            migrated: job.count_success,
            placeholders: job.count_warning,
            failed: job.count_failed,
        }
    }
}

impl From<JobCounts> for Tally {
    fn from(c: JobCounts) -> Tally {
        Tally {
            all: c.all,
            migrated: c.success,
            placeholders: c.warning,
            failed: c.failed,
        }
    }
}

/// `1 placeholder`, `3 placeholders`: the placeholder grants of a count, in words.
pub fn placeholders(n: u64) -> String {
    if n == 1 {
        "1 placeholder".to_owned()
    } else {
        format!("{n} placeholders")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_words_with_one_placeholder_in_the_singular() {
        for (counts, of_all, out_of_all) in [
            (
                (38, 34, 4, 0),
                "34 of 38 migrated, 4 placeholders, 0 failed",
                "34 migrated, 4 placeholders, 0 failed of 38",
            ),
            (
                (5, 3, 1, 1),
                "3 of 5 migrated, 1 placeholder, 1 failed",
                "3 migrated, 1 placeholder, 1 failed of 5",
            ),
            (
                (0, 0, 0, 0),
                "0 of 0 migrated, 0 placeholders, 0 failed",
                "0 migrated, 0 placeholders, 0 failed of 0",
            ),
        ] {
            let (all, migrated, placeholders, failed) = counts;
            let c = Tally {
                all,
                migrated,
                placeholders,
                failed,
            };
            assert_eq!(c.of_all(), of_all);
            assert_eq!(c.out_of_all(), out_of_all);
        }
    }
}
