//! `import`: the v2 application's settings, redirect URIs and integrations copied to v3
//! (integrations become connectors).

use std::convert::Infallible;

use super::super::EngineError;
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx};
use crate::state::journal::{StepRecord, StepStatus};

/// Import. Nylas has no read-back of "was imported", so the journal is the evidence; its guides
/// allow repeating the import, so an unanswered one (or one the journal does not record as
/// done) is simply run again.
pub(super) struct ImportKind;

/// What an import journals: the request's ID.
#[derive(Debug, Clone, Default)]
pub(super) struct ImportRecord {
    pub request_id: Option<String>,
}

impl From<ImportRecord> for StepRecord {
    fn from(r: ImportRecord) -> StepRecord {
        StepRecord {
            action: Some("import".into()),
            request_id: r.request_id,
            ..StepRecord::default()
        }
    }
}

impl StepDriver for ImportKind {
    type Spec = ();
    type Found = ();
    type Write = ();
    type Follow = Infallible;
    type Record = ImportRecord;

    const LIFTS_REFUSALS: bool = true;

    async fn observe(cx: &StepCx<'_>, _: &()) -> Result<Observed<()>, EngineError> {
        Ok(match cx.journal_state()? {
            Some(state) if state.status == StepStatus::Done => Observed::of(
                Action::Unchanged,
                format!("imported by run {}", state.run_id),
            ),
            _ => Observed::of(
                Action::Create,
                "import v2 settings, redirect URIs and integrations (as connectors)",
            ),
        })
    }

    async fn intend(
        _: &WriteCx<'_>,
        _: &(),
        _: (),
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        Ok(Intent::Write {
            record: ImportRecord::default(),
            write: (),
        })
    }

    async fn write(cx: &WriteCx<'_>, _: &(), _: ()) -> Result<Sent<Self>, EngineError> {
        let response = cx.app().import_v2_app().await?;
        Ok(Sent::Done {
            record: ImportRecord {
                request_id: response.request_id,
            },
            outcome: Outcome::Changed("imported v2 settings and integrations".into()),
        })
    }
}
