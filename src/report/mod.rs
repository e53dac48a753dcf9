//! Reports: where a migration stands (`status`) and which accounts moved (`report`), from the
//! journal and the live API, for every pair of a plan at once.

mod accounts;
mod standing;

pub use accounts::{
    AccountOutcome, AccountRow, AccountsReport, AdoptedJobs, JobCount, Totals, WaveCounts,
    accounts_report,
};
pub use standing::{PairStanding, Standing, StepStanding, standing};
