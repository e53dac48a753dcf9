//! `report`: one row per v2 account the plan touched, from the live grants (every grant of each
//! v3 application that came from a v2 account) and the journal (single clones that failed or
//! have not run). The contract gives batch jobs' failures as counts only, never per account, so
//! accounts a wave failed to migrate appear in the wave counts, not as rows.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::GrantStatus;
use crate::client::GrantFilter;
use crate::engine::journal::{Journal, StepStatus};
use crate::engine::{Context, EngineError};
use crate::graph::StepKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountOutcome {
    /// A valid v3 grant.
    Migrated,
    /// An invalid v3 grant: the user must re-authenticate.
    Placeholder,
    /// The clone failed (the error says why).
    Failed,
    /// Listed in the plan, not cloned yet.
    Pending,
}

impl AccountOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountOutcome::Migrated => "migrated",
            AccountOutcome::Placeholder => "placeholder",
            AccountOutcome::Failed => "failed",
            AccountOutcome::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    pub pair: String,
    pub account_id: String,
    pub provider: String,
    pub email: String,
    pub grant_id: String,
    pub grant_status: String,
    pub outcome: AccountOutcome,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveCounts {
    pub pair: String,
    pub wave: String,
    pub status: String,
    pub count_all: u64,
    pub count_success: u64,
    pub count_failed: u64,
    pub count_warning: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountsReport {
    pub plan: String,
    pub accounts: Vec<AccountRow>,
    pub waves: Vec<WaveCounts>,
}

/// Builds the report: every grant of every pair's v3 application (paged, 200 a page), plus the
/// plan's single-clone accounts that have no grant, plus each wave's counts from the journal.
pub async fn accounts_report(
    ctx: &Context,
    journal: Option<&Journal>,
) -> Result<AccountsReport, EngineError> {
    let graph = &ctx.graph;
    let mut accounts = Vec::new();
    let mut waves = Vec::new();
    for (index, pair) in graph.pairs().iter().enumerate() {
        let grants = ctx.apps[index]
            .list_all_grants(&GrantFilter::default())
            .await?
            .data;
        let mut by_account: BTreeMap<String, AccountRow> = BTreeMap::new();
        for grant in grants {
            let Some(account_id) = grant.account_id.clone() else {
                continue;
            };
            let placeholder = grant.grant_status == Some(GrantStatus::Invalid);
            by_account.insert(
                account_id.clone(),
                AccountRow {
                    pair: pair.name.clone(),
                    account_id,
                    provider: grant.provider.clone(),
                    email: grant.email.clone().unwrap_or_default(),
                    grant_id: grant.id.clone(),
                    grant_status: grant
                        .grant_status
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    outcome: if placeholder {
                        AccountOutcome::Placeholder
                    } else {
                        AccountOutcome::Migrated
                    },
                    error: String::new(),
                },
            );
        }
        for step in graph.steps().filter(|s| s.pair == index) {
            let state = match journal {
                Some(j) => j.step(&step.id)?,
                None => None,
            };
            match &step.kind {
                StepKind::Clone(c) if !by_account.contains_key(&c.account_id) => {
                    let failed = state.as_ref().filter(|s| s.status == StepStatus::Failed);
                    by_account.insert(
                        c.account_id.clone(),
                        AccountRow {
                            pair: pair.name.clone(),
                            account_id: c.account_id.clone(),
                            provider: String::new(),
                            email: String::new(),
                            grant_id: String::new(),
                            grant_status: String::new(),
                            outcome: if failed.is_some() {
                                AccountOutcome::Failed
                            } else {
                                AccountOutcome::Pending
                            },
                            error: failed
                                .and_then(|s| s.record.error.clone())
                                .unwrap_or_default(),
                        },
                    );
                }
                StepKind::Batch(b) => {
                    if let Some(state) = state
                        && let Some(counts) = state.record.counts
                    {
                        waves.push(WaveCounts {
                            pair: pair.name.clone(),
                            wave: b.wave.clone(),
                            status: state.record.job_status.clone().unwrap_or_default(),
                            count_all: counts.all,
                            count_success: counts.success,
                            count_failed: counts.failed,
                            count_warning: counts.warning,
                        });
                    }
                }
                _ => {}
            }
        }
        accounts.extend(by_account.into_values());
    }
    Ok(AccountsReport {
        plan: graph.plan_name().to_owned(),
        accounts,
        waves,
    })
}

/// RFC 4180 CSV with a header row.
pub fn to_csv(report: &AccountsReport) -> String {
    let mut out =
        String::from("pair,account_id,provider,email,grant_id,grant_status,outcome,error\n");
    for row in &report.accounts {
        let fields = [
            row.pair.as_str(),
            &row.account_id,
            &row.provider,
            &row.email,
            &row.grant_id,
            &row.grant_status,
            row.outcome.as_str(),
            &row.error,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(field: &str) -> String {
    // Emails and errors come from the API and the journal: no control character reaches a
    // terminal that shows the CSV, nor a spreadsheet.
    let field = crate::untrusted::escaped(field);
    // A leading =, +, - or @ would be run as a formula by spreadsheet programs.
    let field = if field.starts_with(['=', '+', '-', '@']) {
        format!("'{field}")
    } else {
        field.into_owned()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

impl AccountsReport {
    pub fn to_csv(&self) -> String {
        to_csv(self)
    }
}
