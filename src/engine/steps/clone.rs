//! `clone/<account>`: one test account cloned into a v3 grant, before any wave.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::api::{Grant, GrantStatus};
use crate::graph::{CloneStep, StepKind};

use super::checklist::{Check, VerifyCx, VerifyItem};
use super::{
    Action, Intent, Observed, Outcome, Refusal, Sent, StepCx, StepDriver, WriteCx, api_message,
    standing_refusal,
};
use crate::engine::EngineError;
use crate::engine::context::Context;
use crate::state::journal::{StepRecord, StepStatus};

/// Clone. After an ambiguous failure the client reads the account's grant before sending
/// again (see `client::retry`), and a grant with the account's ID is the evidence that it was
/// cloned, so an account is cloned once. A definite refusal (400: an account that cannot
/// migrate with placeholders disallowed, a connector without credentials) is an outcome:
/// recorded with what was asked, and not sent again until that changes (the plan's
/// placeholders, a connector, the link or the import written again, or `--rerun-clone`).
pub(super) struct CloneKind;

/// What a clone journals: the grant it made, and whether it is a placeholder.
#[derive(Debug, Clone, Default)]
pub(super) struct CloneRecord {
    pub request_id: Option<String>,
    pub grant_id: Option<String>,
    pub grant_status: Option<GrantStatus>,
}

impl From<CloneRecord> for StepRecord {
    fn from(r: CloneRecord) -> StepRecord {
        StepRecord {
            action: Some("clone".into()),
            request_id: r.request_id,
            object_id: r.grant_id,
            grant_status: r.grant_status,
            ..StepRecord::default()
        }
    }
}

/// The grants of one pair's single-clone accounts, by account ID.
pub type GrantIndex = HashMap<String, Grant>;

impl StepDriver for CloneKind {
    type Spec = CloneStep;
    type Found = ();
    type Write = ();
    type Follow = Infallible;
    type Record = CloneRecord;

    /// The grants of every test account of the pair, in pages: one observation serves all
    /// its clone steps.
    async fn shared_reads(cx: &StepCx<'_>) -> Result<(), String> {
        cx.reads
            .grants(cx.ctx)
            .await
            .map(drop)
            .map_err(|err| format!("observing grants: {err}"))
    }

    async fn observe(cx: &StepCx<'_>, c: &CloneStep) -> Result<Observed<()>, EngineError> {
        let grants = cx
            .reads
            .grants(cx.ctx)
            .await
            .map_err(|err| EngineError::Internal(format!("observing grants: {err}")))?;
        if let Some(grant) = grants.get(&c.account_id) {
            return Ok(Observed::of(Action::Unchanged, grant_evidence(grant)));
        }
        Ok(match standing_refusal(cx, &clone_key(c))? {
            Some(refusal) => Observed::of(
                Action::Failed,
                format!(
                    "Nylas refused this account in run {}: {}; cloned again only when the plan changes its placeholders or a connector is written again, or with `apply --rerun-clone {}/{}`",
                    refusal.run_id,
                    refusal.record.error.as_deref().unwrap_or("no reason given"),
                    cx.pair().name,
                    c.account_id
                ),
            ),
            None => Observed::of(Action::Create, "no v3 grant for this account yet"),
        })
    }

    /// A test account passes with a valid grant and fails without one (with the refusal the
    /// journal keeps, if any). A placeholder grant is a step for a person: the clone is done
    /// (`plan` shows it unchanged, no apply sends it again) and only its user signing in again
    /// makes the grant valid, so it is listed as todo, not as a failure.
    async fn verify(cx: &VerifyCx<'_>, c: &CloneStep) -> Result<Vec<VerifyItem>, EngineError> {
        let grant = cx.reads.tests.get(&c.account_id).and_then(Option::as_ref);
        let (passed, evidence) = match grant {
            Some(g) if g.grant_status == Some(GrantStatus::Invalid) => {
                return Ok(vec![VerifyItem::manual(
                    Check::TestAccount,
                    c.account_id.clone(),
                    format!(
                        "placeholder grant {}: the user must sign in again (hosted authentication); no apply of this plan can do it",
                        g.id
                    ),
                )]);
            }
            Some(g) => (true, format!("valid grant {} ({})", g.id, g.provider)),
            None => {
                let why = cx
                    .recorded()?
                    .filter(|s| s.status == StepStatus::Failed)
                    .and_then(|s| s.record.error);
                (
                    false,
                    match why {
                        Some(e) => format!("no grant: the clone failed: {e}"),
                        None => "no grant: not cloned yet".to_owned(),
                    },
                )
            }
        };
        Ok(vec![VerifyItem::new(
            Check::TestAccount,
            c.account_id.clone(),
            passed,
            evidence,
        )])
    }

    async fn intend(
        _: &WriteCx<'_>,
        _: &CloneStep,
        _: (),
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        Ok(Intent::Write {
            record: CloneRecord::default(),
            write: (),
        })
    }

    async fn write(cx: &WriteCx<'_>, c: &CloneStep, _: ()) -> Result<Sent<Self>, EngineError> {
        let response = match cx.app().clone_account(&c.account_id, c.placeholders).await {
            Ok(response) => response,
            Err(err) if err.status() == Some(400) => {
                let message = api_message(&err);
                return Ok(Sent::Refused {
                    outcome: Outcome::Settled(format!(
                        "Nylas refused to clone account {}: {message}; not sent again until the plan changes its placeholders or a connector is written again (or `apply --rerun-clone {}/{}`)",
                        c.account_id,
                        cx.pair().name,
                        c.account_id
                    )),
                    refusal: Refusal {
                        action: "clone",
                        request_key: clone_key(c),
                        request_id: err.request_id().map(str::to_owned),
                        error: message,
                    },
                });
            }
            Err(err) => return Err(err.into()),
        };
        let grant = response.data;
        let outcome = Outcome::Changed(match grant.grant_status {
            Some(GrantStatus::Invalid) => format!(
                "cloned into placeholder grant {} (the user must re-authenticate)",
                grant.id
            ),
            _ => format!("cloned into grant {}", grant.id),
        });
        Ok(Sent::Done {
            record: CloneRecord {
                request_id: response.request_id,
                grant_id: Some(grant.id),
                grant_status: grant.grant_status,
            },
            outcome,
        })
    }
}

/// The grants of a pair's test accounts, looked up in pages rather than one call per account.
pub(super) async fn grant_index(ctx: &Context, pair: usize) -> Result<GrantIndex, EngineError> {
    let accounts: Vec<&str> = ctx
        .graph()
        .steps()
        .filter(|s| s.pair == pair)
        .filter_map(|s| match &s.kind {
            StepKind::Clone(c) => Some(c.account_id.as_str()),
            _ => None,
        })
        .collect();
    if accounts.is_empty() {
        return Ok(GrantIndex::new());
    }
    let pages = ctx.pair_app(pair).grants_for_accounts(&accounts).await?;
    Ok(pages
        .data
        .into_iter()
        .filter_map(|g| g.account_id.clone().map(|a| (a, g)))
        .collect())
}

/// The key a clone's refusal is recorded under: what it asked Nylas for.
fn clone_key(c: &CloneStep) -> String {
    serde_json::json!({"placeholders": c.placeholders}).to_string()
}

fn grant_evidence(grant: &Grant) -> String {
    match grant.grant_status {
        Some(GrantStatus::Invalid) => {
            format!("placeholder grant {} (user must re-authenticate)", grant.id)
        }
        _ => format!("grant {} exists", grant.id),
    }
}
