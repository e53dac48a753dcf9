//! `report --outcome placeholder,failed`: only the accounts with those outcomes, as a list a
//! mail merge can use (one row per account: email, provider, pair, reason), so the team can
//! write to the users who must sign in again.

use super::{AccountOutcome, AccountRow};

/// Whether the `--outcome` list keeps `row`: its outcome is one of `outcomes`.
pub fn keeps(outcomes: &[AccountOutcome], row: &AccountRow) -> bool {
    outcomes.contains(&row.outcome)
}

/// Why the account is on the list, in words a mail merge can quote.
pub fn reason(row: &AccountRow) -> String {
    match row.outcome {
        AccountOutcome::Placeholder => format!(
            "placeholder grant {}: the account could not be migrated with its credentials; the user must sign in again",
            row.grant_id
        ),
        AccountOutcome::Failed if !row.error.is_empty() => {
            format!("the migration failed: {}", row.error)
        }
        AccountOutcome::Failed => "the migration failed".to_owned(),
        AccountOutcome::Pending if !row.error.is_empty() => {
            format!("not migrated yet: {}", row.error)
        }
        AccountOutcome::Pending => "not migrated yet".to_owned(),
        AccountOutcome::Migrated => format!("migrated to grant {}", row.grant_id),
    }
}

/// The columns of [`csv_row`].
pub const COLUMNS: [&str; 6] = [
    "email",
    "provider",
    "pair",
    "account_id",
    "outcome",
    "reason",
];

/// The `--outcome` list is RFC 4180 CSV with a header row, meant for spreadsheets and
/// mail-merge tools: every cell by the one rule for such cells ([`crate::untrusted::csv_cell`]:
/// control characters escaped, a value that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return prefixed with `'`). This is its header row, appended to `out`.
pub fn csv_header(out: &mut String) {
    line(&COLUMNS.map(str::to_owned), out);
}

/// One row of the `--outcome` list, appended to `out`.
pub fn csv_row(row: &AccountRow, out: &mut String) {
    line(
        &[
            row.email.clone(),
            row.provider.clone(),
            row.pair.clone(),
            row.account_id.clone(),
            row.outcome.as_str().to_owned(),
            reason(row),
        ],
        out,
    );
}

/// One row of the `--outcome` list as JSON (the columns of [`csv_row`]).
pub fn json_row(row: &AccountRow) -> serde_json::Value {
    serde_json::json!({
        "email": row.email, "provider": row.provider, "pair": row.pair,
        "account_id": row.account_id, "outcome": row.outcome,
        "reason": reason(row),
    })
}

fn line(fields: &[String], out: &mut String) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&crate::untrusted::csv_cell(field));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: AccountOutcome, email: &str, error: &str) -> AccountRow {
        AccountRow {
            pair: "us".into(),
            account_id: "a1".into(),
            provider: "microsoft".into(),
            email: email.into(),
            grant_id: "g1".into(),
            grant_status: String::new(),
            outcome,
            error: error.into(),
        }
    }

    #[test]
    fn only_the_asked_outcomes_with_mail_merge_columns() {
        let report = [
            row(AccountOutcome::Migrated, "ok@acme.com", ""),
            row(AccountOutcome::Placeholder, "bob@outlook.com", ""),
            row(AccountOutcome::Failed, "=cmd@evil.com", "HTTP 400, \"no\""),
        ];
        let asked = [AccountOutcome::Placeholder, AccountOutcome::Failed];
        let rows: Vec<&AccountRow> = report.iter().filter(|r| keeps(&asked, r)).collect();
        assert_eq!(rows.len(), 2);
        let mut csv = String::new();
        csv_header(&mut csv);
        for row in rows {
            csv_row(row, &mut csv);
        }
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "email,provider,pair,account_id,outcome,reason");
        assert!(
            lines[1]
                .starts_with("bob@outlook.com,microsoft,us,a1,placeholder,placeholder grant g1")
        );
        assert!(lines[2].starts_with("'=cmd@evil.com,"), "{}", lines[2]);
        assert!(
            lines[2].ends_with("\"the migration failed: HTTP 400, \"\"no\"\"\""),
            "{}",
            lines[2]
        );
    }
}
