//! `report --format html`: one self-contained page for the people who follow a migration.
//!
//! Nothing is fetched: the style is inline, the one script (the sign-in list's search box) is
//! inline, and the page's Content-Security-Policy allows nothing else (`default-src 'none'`, the
//! script by its hash), so even a string that escaped escaping could load nothing. Every string
//! from the plan, the journal or Nylas goes through [`text`]. Every chart (a wave's bar) has its
//! numbers beside it in the table and in its label; the page prints without its search box.
//!
//! The page is written in three parts so that the report stays a page of grants in memory
//! whatever the number of accounts: [`top`] (the summary, known once every row went by, then
//! the sign-in list's head), the list's rows as they stream ([`row`]), and [`bottom`]. The
//! caller keeps the rows aside until the summary is known (`cli/report.rs`).

use std::collections::BTreeMap;

use base64::Engine;
use sha2::Digest;

use crate::report::{AccountOutcome, AccountRow, ReportTail, Verification, WaveCounts};

/// At most this many distinct failure reasons are listed; the others are counted together.
const MAX_REASONS: usize = 100;

/// `raw` as HTML text or attribute value: control characters escaped as everywhere, then the
/// characters HTML gives a meaning as entities.
pub fn text(raw: &str) -> String {
    let safe = crate::untrusted::esc(raw).to_string();
    let mut out = String::with_capacity(safe.len() + 8);
    for c in safe.chars() {
        match entity(c) {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
    }
    out
}

/// The entity of a character HTML gives a meaning, in text and in attribute values.
pub fn entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    }
}

/// What the page needs besides the report: its title and which rows the list holds.
pub struct Page<'a> {
    pub plan: &'a str,
    /// When the report was made (Unix seconds).
    pub generated_at: i64,
    /// The outcomes the list shows (placeholder and failed: the users who must sign in again).
    pub listed: &'a [AccountOutcome],
}

/// Counts kept while the rows stream by: outcomes by provider, failure reasons, rows listed.
#[derive(Debug, Default)]
pub struct Tallies {
    /// Provider → migrated, placeholder, failed, pending.
    providers: BTreeMap<String, [u64; 4]>,
    reasons: BTreeMap<String, u64>,
    /// Failed rows whose reason was not kept ([`MAX_REASONS`]).
    other_reasons: u64,
    /// Rows in the sign-in list.
    pub listed: u64,
}

impl Tallies {
    /// Counts `row`; returns whether the list shows it.
    pub fn add(&mut self, row: &AccountRow, listed: &[AccountOutcome]) -> bool {
        let provider = if row.provider.is_empty() {
            "(not known)"
        } else {
            &row.provider
        };
        let index = outcome_index(row.outcome);
        match self.providers.get_mut(provider) {
            Some(counts) => counts[index] += 1,
            None => {
                let mut counts = [0; 4];
                counts[index] = 1;
                self.providers.insert(provider.to_owned(), counts);
            }
        }
        if row.outcome == AccountOutcome::Failed {
            let reason = if row.error.is_empty() {
                "no reason recorded"
            } else {
                &row.error
            };
            if let Some(n) = self.reasons.get_mut(reason) {
                *n += 1;
            } else if self.reasons.len() < MAX_REASONS {
                self.reasons.insert(reason.to_owned(), 1);
            } else {
                self.other_reasons += 1;
            }
        }
        let shown = listed.contains(&row.outcome);
        if shown {
            self.listed += 1;
        }
        shown
    }
}

fn outcome_index(outcome: AccountOutcome) -> usize {
    match outcome {
        AccountOutcome::Migrated => 0,
        AccountOutcome::Placeholder => 1,
        AccountOutcome::Failed => 2,
        AccountOutcome::Pending => 3,
    }
}

/// One row of the sign-in list.
pub fn row(row: &AccountRow) -> String {
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        text(&row.email),
        text(&row.provider),
        text(&row.pair),
        text(&row.account_id),
        row.outcome.as_str(),
        text(&row.error),
    )
}

const STYLE: &str = r#"
:root { color-scheme: light; --ok: #1a7f37; --warn: #b35900; --bad: #cf222e; --rest: #d0d7de; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { white-space: nowrap; }
th { background: #f6f8fa; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; } .todo { font-weight: 600; }
.counts { display: flex; flex-wrap: wrap; gap: 1rem; padding: 0; list-style: none; }
.counts li { border: 1px solid #d0d7de; border-radius: 6px; padding: .4rem .8rem; }
.counts b { display: block; font-size: 1.4rem; }
.bar { display: flex; height: 1rem; min-width: 10rem; border: 1px solid #8c959f; background: var(--rest); }
.bar span { display: block; height: 100%; }
.bar .m { background: var(--ok); } .bar .p { background: var(--warn); } .bar .f { background: var(--bad); }
.key span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .2rem 0 .8rem; vertical-align: middle; }
#search { margin: .5rem 0; } #q { font: inherit; padding: .3rem .5rem; width: 24rem; max-width: 100%; }
.muted { color: #59636e; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  #search, nav { display: none; }
  .bar, .bar span, .key span { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  thead { display: table-header-group; } tr { break-inside: avoid; }
}
"#;

const SCRIPT: &str = r#"(function () {
  var q = document.getElementById("q");
  var shown = document.getElementById("shown");
  var rows = document.getElementById("signin").tBodies[0].rows;
  var n = rows.length, texts = new Array(n), timer = null;
  for (var i = 0; i < n; i++) texts[i] = rows[i].textContent.toLowerCase();
  function filter() {
    var t = q.value.trim().toLowerCase(), c = 0;
    for (var i = 0; i < n; i++) {
      var hit = !t || texts[i].indexOf(t) >= 0;
      if (rows[i].hidden === hit) rows[i].hidden = !hit;
      if (hit) c++;
    }
    shown.textContent = c + " of " + n + " shown";
  }
  q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(filter, 120); });
  q.disabled = false;
  shown.textContent = n + " of " + n + " shown";
  var asked = /[#&]q=([^&]*)/.exec(location.hash);
  if (asked) {
    try { q.value = decodeURIComponent(asked[1]); } catch (e) { q.value = asked[1]; }
    filter();
  }
  document.documentElement.setAttribute("data-ready", "1");
})();"#;

/// The Content-Security-Policy: nothing from anywhere, the inline style, this script by hash.
fn policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; img-src 'none'; form-action 'none'; base-uri 'none'"
    )
}

fn when(at: Option<i64>) -> String {
    at.map(crate::state::journal::format_utc)
        .unwrap_or_else(|| "not known".to_owned())
}

fn percent(part: u64, all: u64) -> String {
    if all == 0 {
        return "0".to_owned();
    }
    format!("{:.2}", part as f64 * 100.0 / all as f64)
}

/// A wave's bar: migrated, placeholders, failed as parts of all it selected; its label says
/// the same in words.
fn bar(w: &WaveCounts) -> String {
    let label = format!(
        "{} migrated, {} placeholders, {} failed, of {}",
        w.count_success, w.count_warning, w.count_failed, w.count_all
    );
    format!(
        "<div class=\"bar\" role=\"img\" aria-label=\"{label}\" title=\"{label}\"><span class=\"m\" style=\"width:{}%\"></span><span class=\"p\" style=\"width:{}%\"></span><span class=\"f\" style=\"width:{}%\"></span></div>",
        percent(w.count_success, w.count_all),
        percent(w.count_warning, w.count_all),
        percent(w.count_failed, w.count_all),
    )
}

/// Everything before the sign-in list's rows: the counts, each pair's checklist, the waves,
/// the outcomes by provider, the failure reasons, and the list's head.
pub fn top(page: &Page, verification: &Verification, tail: &ReportTail, t: &Tallies) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Migration report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>Migration report: {}</h1>\n<p class=\"muted\">Made by nylas-migrate {} on {}. Verify: <span class=\"{}\">{}</span>.</p>\n</header>\n",
        policy(),
        text(page.plan),
        text(page.plan),
        env!("CARGO_PKG_VERSION"),
        crate::state::journal::format_utc(page.generated_at),
        if verification.passed { "pass" } else { "fail" },
        if verification.passed {
            "every item passes"
        } else {
            "not every item passes"
        },
    );
    counts(&mut out, verification, tail, t);
    out.push_str("<nav aria-label=\"Sections\"><a href=\"#checklists\">Checklists</a> · <a href=\"#waves\">Waves</a> · <a href=\"#providers\">Outcomes by provider</a> · <a href=\"#reasons\">Failure reasons</a> · <a href=\"#sign-in\">Users who must sign in again</a></nav>\n<main>\n");
    checklists(&mut out, verification);
    waves(&mut out, tail);
    providers(&mut out, t);
    reasons(&mut out, tail, t);
    let listed: Vec<&str> = page.listed.iter().map(|o| o.as_str()).collect();
    let heading = if page.listed == [AccountOutcome::Placeholder, AccountOutcome::Failed] {
        "Users who must sign in again".to_owned()
    } else {
        format!("Accounts: {}", listed.join(", "))
    };
    out.push_str(&format!(
        "<section id=\"sign-in\" aria-labelledby=\"sign-in-h\">\n<h2 id=\"sign-in-h\">{heading}</h2>\n<p>{} accounts whose outcome is {}: a placeholder grant needs the user to sign in again; a failed account was not migrated.</p>\n<div id=\"search\"><label for=\"q\">Search (email, provider, pair, account, reason; a link can ask with <code>#q=text</code>): </label><input id=\"q\" type=\"search\" disabled aria-controls=\"signin\" aria-describedby=\"shown\"> <span id=\"shown\" aria-live=\"polite\"></span></div>\n<table id=\"signin\">\n<thead><tr><th scope=\"col\">email</th><th scope=\"col\">provider</th><th scope=\"col\">pair</th><th scope=\"col\">account ID</th><th scope=\"col\">outcome</th><th scope=\"col\">reason</th></tr></thead>\n<tbody>\n",
        t.listed,
        listed.join(" or "),
    ));
    out
}

fn counts(out: &mut String, v: &Verification, tail: &ReportTail, t: &Tallies) {
    let sum = |i: usize| -> u64 { t.providers.values().map(|c| c[i]).sum() };
    let items: usize = v.pairs.iter().map(|p| p.items.len()).sum();
    let failed_items = v.failures().count();
    let todo_items = v.todo();
    out.push_str("<ul class=\"counts\" aria-label=\"Counts\">\n");
    for (label, value) in [
        ("pairs", v.pairs.len() as u64),
        ("checklist items failed", failed_items as u64),
        ("steps for a person (todo)", todo_items as u64),
        ("checklist items", items as u64),
        ("accounts with a row", tail.totals.rows),
        ("migrated", sum(0)),
        ("placeholders", sum(1)),
        ("failed (rows)", sum(2)),
        ("failed in batch jobs", tail.totals.failed_in_jobs),
        ("pending", sum(3)),
    ] {
        out.push_str(&format!("<li><b>{value}</b>{label}</li>\n"));
    }
    out.push_str("</ul>\n");
}

fn checklists(out: &mut String, v: &Verification) {
    out.push_str("<section id=\"checklists\" aria-labelledby=\"checklists-h\">\n<h2 id=\"checklists-h\">Checklists</h2>\n");
    for pair in &v.pairs {
        out.push_str(&format!(
            "<table>\n<caption><b>{}</b> ({}): <span class=\"{}\">{}</span></caption>\n<thead><tr><th scope=\"col\">result</th><th scope=\"col\">check</th><th scope=\"col\">subject</th><th scope=\"col\">evidence</th></tr></thead>\n<tbody>\n",
            text(&pair.pair),
            text(pair.region.as_str()),
            if pair.passed { "pass" } else { "fail" },
            if pair.passed { "PASS" } else { "FAIL" },
        ));
        for item in &pair.items {
            out.push_str(&format!(
                "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                match (item.passed, item.manual) {
                    (true, _) => "pass",
                    (false, true) => "todo",
                    (false, false) => "fail",
                },
                match (item.passed, item.manual) {
                    (true, _) => "ok",
                    (false, true) => "todo",
                    (false, false) => "FAIL",
                },
                item.check.as_str(),
                text(&item.subject),
                text(&item.evidence),
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

fn waves(out: &mut String, tail: &ReportTail) {
    out.push_str("<section id=\"waves\" aria-labelledby=\"waves-h\">\n<h2 id=\"waves-h\">Waves</h2>\n<p class=\"key\" aria-hidden=\"true\">Bars:<span style=\"background:var(--ok)\"></span>migrated<span style=\"background:var(--warn)\"></span>placeholders<span style=\"background:var(--bad)\"></span>failed<span style=\"background:var(--rest)\"></span>not processed</p>\n");
    if tail.waves.is_empty() {
        out.push_str("<p>No wave has started a batch job yet.</p>\n</section>\n");
        return;
    }
    out.push_str("<table>\n<thead><tr><th scope=\"col\">pair</th><th scope=\"col\">wave</th><th scope=\"col\">status</th><th scope=\"col\">started</th><th scope=\"col\">ended</th><th scope=\"col\">selected</th><th scope=\"col\">migrated</th><th scope=\"col\">placeholders</th><th scope=\"col\">failed</th><th scope=\"col\">jobs</th><th scope=\"col\">bar</th></tr></thead>\n<tbody>\n");
    for w in &tail.waves {
        out.push_str(&format!(
            "<tr class=\"wave\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
            text(&w.pair),
            text(&w.wave),
            text(&w.status),
            when(w.started_at),
            when(w.ended_at),
            w.count_all,
            w.count_success,
            w.count_warning,
            w.count_failed,
            w.jobs.len(),
            bar(w),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    for adopted in &tail.adopted_jobs {
        let all: u64 = adopted.jobs.iter().map(|j| j.count_all).sum();
        let failed: u64 = adopted.jobs.iter().map(|j| j.count_failed).sum();
        out.push_str(&format!(
            "<p>{}: {} jobs adopted with <code>--adopt-existing-jobs</code>, {all} accounts selected, {failed} failed.</p>\n",
            text(&adopted.pair),
            adopted.jobs.len(),
        ));
    }
    out.push_str("</section>\n");
}

fn providers(out: &mut String, t: &Tallies) {
    out.push_str("<section id=\"providers\" aria-labelledby=\"providers-h\">\n<h2 id=\"providers-h\">Outcomes by provider</h2>\n<p class=\"muted\">Accounts with a row (a grant, or a test account). Accounts a batch job failed to migrate have no row: Nylas counts them per job (see Waves).</p>\n<table>\n<thead><tr><th scope=\"col\">provider</th><th scope=\"col\">migrated</th><th scope=\"col\">placeholders</th><th scope=\"col\">failed</th><th scope=\"col\">pending</th><th scope=\"col\">total</th></tr></thead>\n<tbody>\n");
    for (provider, c) in &t.providers {
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            text(provider),
            c[0],
            c[1],
            c[2],
            c[3],
            c.iter().sum::<u64>(),
        ));
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn reasons(out: &mut String, tail: &ReportTail, t: &Tallies) {
    out.push_str("<section id=\"reasons\" aria-labelledby=\"reasons-h\">\n<h2 id=\"reasons-h\">Failure reasons</h2>\n<table>\n<thead><tr><th scope=\"col\">reason</th><th scope=\"col\">accounts</th></tr></thead>\n<tbody>\n");
    let mut reasons: Vec<(&String, &u64)> = t.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (reason, n) in reasons {
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\">{n}</td></tr>\n",
            text(reason)
        ));
    }
    if t.other_reasons > 0 {
        out.push_str(&format!(
            "<tr><td>other reasons (more than {MAX_REASONS} different ones)</td><td class=\"n\">{}</td></tr>\n",
            t.other_reasons
        ));
    }
    for w in tail.waves.iter().filter(|w| w.count_failed > 0) {
        out.push_str(&format!(
            "<tr><td>failed in a batch job of wave {} of {} ({}; the API gives batch failures as counts, not per account)</td><td class=\"n\">{}</td></tr>\n",
            text(&w.wave),
            text(&w.pair),
            text(&w.status),
            w.count_failed
        ));
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// Everything after the sign-in list's rows: the end of the page and its one script.
pub fn bottom() -> String {
    format!(
        "</tbody>\n</table>\n</section>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_leaves_no_markup_and_no_control_character() {
        for (raw, shown) in [
            ("a@b.example", "a@b.example"),
            ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
            ("\"onload='x'", "&quot;onload=&#39;x&#39;"),
            ("&amp;", "&amp;amp;"),
            ("\u{1b}]0;t\u{7}", "\\u{1b}]0;t\\u{7}"),
            ("\u{202e}rtl", "\\u{202e}rtl"),
        ] {
            assert_eq!(text(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn the_policy_allows_the_script_by_its_hash_and_nothing_remote() {
        let policy = policy();
        assert!(policy.starts_with("default-src 'none';"), "{policy}");
        assert!(!policy.contains("http"), "{policy}");
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT));
        assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
    }

    #[test]
    fn a_bar_is_its_counts_in_parts_of_a_hundred() {
        let wave = WaveCounts {
            pair: "p".into(),
            wave: "w".into(),
            status: "completed".into(),
            count_all: 8,
            count_success: 6,
            count_failed: 1,
            count_warning: 1,
            started_at: None,
            ended_at: None,
            jobs: Vec::new(),
        };
        let bar = bar(&wave);
        assert!(bar.contains("width:75.00%"), "{bar}");
        assert!(bar.contains("width:12.50%"), "{bar}");
        assert!(
            bar.contains("aria-label=\"6 migrated, 1 placeholders, 1 failed, of 8\""),
            "{bar}"
        );
        assert_eq!(percent(1, 0), "0");
    }
}
