//! Reports: where a migration stands (`status`) and which accounts moved (`report`), from the
//! journal and the live API, for every pair of a plan at once.

mod accounts;
pub mod manual;
pub mod outcomes;
mod standing;
mod verify;

pub use accounts::{
    AccountOutcome, AccountRow, AdoptedJobs, CSV_HEADER, JobCount, ReportTail, Totals, WaveCounts,
    csv_row, stream_accounts_report,
};
pub use standing::{PairStanding, Standing, StandingStatus, StepStanding, standing};
pub use verify::{
    Check, Item, PairVerification, VERIFY_VERSION, Verification, VerifyItem, WaveState, verify,
    wave_state,
};
