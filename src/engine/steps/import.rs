//! `import`: the v2 application's settings, redirect URIs and integrations copied to v3
//! (integrations become connectors).

use std::collections::BTreeSet;
use std::convert::Infallible;

use crate::api::ConnectorProvider;
use crate::graph::{ConnectorStep, StepKind};

use super::checklist::{Check, VerifyCx, VerifyItem};
use super::connector::microsoft_credentials;
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx};
use crate::engine::EngineError;
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

    /// What import leaves, with the plan's connector fixes over it: a `connector` for every
    /// provider among the pair's grants and the plan's fixes, and `microsoft-credentials`
    /// wherever there is (or should be) a Microsoft connector
    /// ([`super::connector::microsoft_credentials`]).
    async fn verify(cx: &VerifyCx<'_>, _: &()) -> Result<Vec<VerifyItem>, EngineError> {
        let connectors = cx.app().list_connectors().await?.data;
        let fixes: Vec<&ConnectorStep> = cx
            .reads
            .steps
            .iter()
            .filter_map(|s| match &s.kind {
                StepKind::Connector(c) => Some(&**c),
                _ => None,
            })
            .collect();
        let by_provider = cx.reads.grant_providers;
        let mut providers: BTreeSet<&str> = by_provider.keys().map(String::as_str).collect();
        providers.extend(fixes.iter().map(|c| c.provider.as_str()));
        let mut items = Vec::new();
        for provider in &providers {
            let present = connectors.iter().any(|c| c.provider.as_str() == *provider);
            let uses = by_provider.get(*provider).copied().unwrap_or(0);
            items.push(VerifyItem::new(
                Check::Connector,
                *provider,
                present,
                match (present, uses) {
                    (true, 0) => "present (the plan fixes it; no grant uses it yet)".to_owned(),
                    (true, n) => format!("present, used by {}", count_grants(n)),
                    (false, 0) => "absent, though the plan fixes it".to_owned(),
                    (false, n) => format!("absent, though {} use it", count_grants(n)),
                },
            ));
        }
        let microsoft = ConnectorProvider::Microsoft;
        let live = connectors.iter().find(|c| c.provider == microsoft);
        if providers.contains(microsoft.as_str()) || live.is_some() {
            let fixed = fixes.iter().any(|c| {
                c.provider == microsoft
                    && c.settings.as_ref().is_some_and(|s| s.client_id.is_some())
            });
            items.push(microsoft_credentials(live, fixed, cx.pair.region));
        }
        Ok(items)
    }

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

fn count_grants(n: usize) -> String {
    if n == 1 {
        "1 grant".to_owned()
    } else {
        format!("{n} grants")
    }
}
