//! Reports: where a migration stands (`status`) and which accounts moved (`report`), from the
//! journal and the live API, for every pair of a plan at once.

mod accounts;
pub mod checklist;
pub mod manual;
pub mod outcomes;
mod standing;
pub mod standing_model;
mod verify;

pub use accounts::{
    AccountOutcome, AccountRow, AdoptedJobs, CSV_HEADER, JobCount, ReportTail, Totals, WaveCounts,
    csv_row, stream_accounts_report,
};
pub use checklist::{Check, Item, PairVerification, VERIFY_VERSION, Verification, VerifyItem};
pub use standing::standing;
pub use standing_model::{PairStanding, Standing, StandingStatus, StepStanding};
pub use verify::{WaveState, verify, wave_state};
