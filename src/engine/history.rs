//! A state folder that knows nothing of a pair whose application already has a past (linked,
//! migration jobs): the likely sign of a lost or different state folder (an evicted CI cache,
//! another machine). `plan` and `apply` say so before anything else, in plain words.

use crate::api::MigrationJob;
use crate::client::JobFilter;

use futures::StreamExt;

use super::EngineError;
use super::context::{Context, PAIRS_AT_ONCE};
use super::steps::adoption::describe_adoption;
use super::steps::wave_reads::pair_adoption;
use super::steps::waves::describe_jobs;

/// One pair whose application has history that this state does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryNote {
    pub pair: String,
    pub v3_app_id: String,
    /// The v3 application is already linked to the plan's v2 application.
    pub linked_v2_app: Option<String>,
    /// Every migration job on the application (none of them known to this state).
    pub jobs: Vec<MigrationJob>,
    /// What `--adopt-existing-jobs` would record them as (the batch clones that fit the
    /// pair's waves as those waves', the others as history), in words.
    pub adoption: String,
    /// The exact command that adopts them.
    pub adopt_command: String,
}

impl HistoryNote {
    pub fn message(&self, state: &crate::state::journal::StateLocation, adopt: bool) -> String {
        let mut past = Vec::new();
        if let Some(v2) = &self.linked_v2_app {
            past.push(format!("is already linked to v2 app {v2}"));
        }
        if !self.jobs.is_empty() {
            past.push(format!("has {}", describe_jobs(&self.jobs)));
        }
        let then = if self.jobs.is_empty() {
            "import runs again and connector secrets are written again (they cannot be read back)"
                .to_owned()
        } else if adopt {
            format!(
                "--adopt-existing-jobs records {} before any wave starts",
                self.adoption
            )
        } else {
            format!(
                "no wave starts while the application has jobs this state does not know: restore the state folder that ran the plan, or, to move on, run `{}`: it records {}",
                self.adopt_command, self.adoption
            )
        };
        format!(
            "the {} has no record of pair `{}`, but its v3 application {} {}: this state is new, or not the one that ran this plan (a lost CI cache, another machine); {then}",
            state.describe(),
            self.pair,
            self.v3_app_id,
            past.join(" and ")
        )
    }
}

/// For each pair the journal has no record of: whether its application is linked to the
/// plan's v2 application or has migration jobs. Two reads per such pair; none for pairs the
/// journal knows. Pairs are asked concurrently (each application's reads paced by its own
/// limiter, at most [`PAIRS_AT_ONCE`] pairs in flight), the notes come back in plan order. A
/// read that fails is left to the steps, which report it.
pub async fn unrecorded_history(ctx: &Context) -> Result<Vec<HistoryNote>, EngineError> {
    let targeted: Vec<usize> = (0..ctx.graph().pairs().len())
        .filter(|&index| ctx.targets_pair(index))
        .collect();
    // Whether the journal knows each pair, asked at once (one round trip to a database).
    let known = match ctx.journal() {
        Some(journal) => {
            let names: Vec<&str> = targeted
                .iter()
                .map(|&index| ctx.graph().pairs()[index].name.as_str())
                .collect();
            journal.knows_pairs(&names)?
        }
        None => vec![false; targeted.len()],
    };
    let unknown: Vec<usize> = targeted
        .into_iter()
        .zip(known)
        .filter(|(_, known)| !known)
        .map(|(index, _)| index)
        .collect();
    let notes = futures::stream::iter(unknown)
        .map(|index| pair_history(ctx, index))
        .buffered(PAIRS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut found = Vec::new();
    for note in notes {
        found.extend(note?);
    }
    Ok(found)
}

/// One pair's history: its application's link and jobs (the two reads at once).
async fn pair_history(ctx: &Context, index: usize) -> Result<Option<HistoryNote>, EngineError> {
    let pair = &ctx.graph().pairs()[index];
    let app = ctx.pair_app(index);
    let all_jobs = JobFilter::default();
    let (application, jobs) = futures::join!(app.get_application(), app.list_jobs(&all_jobs));
    let (Ok(application), Ok(jobs)) = (application, jobs) else {
        return Ok(None);
    };
    let linked_v2_app = application
        .data
        .v2_application_id
        .filter(|v2| *v2 == pair.v2_app_id);
    let jobs = jobs.data;
    if linked_v2_app.is_none() && jobs.is_empty() {
        return Ok(None);
    }
    let (waves, adoption) = pair_adoption(ctx, index, &jobs)?;
    Ok(Some(HistoryNote {
        adoption: describe_adoption(&waves, &adoption),
        adopt_command: ctx.options().apply_command("--adopt-existing-jobs"),
        pair: pair.name.clone(),
        v3_app_id: pair.v3_app_id.clone(),
        linked_v2_app,
        jobs,
    }))
}
