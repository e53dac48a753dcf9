//! `--output markdown` for `plan`, `status` and `verify`: GitHub-flavoured markdown for a
//! pull-request comment or a job summary. Counts come first, then conflicts and failures, then
//! one collapsible section (`<details>`) per pair.
//!
//! Every string from a plan, the journal or Nylas goes through [`text`] (or [`html`] inside the
//! `<summary>` tag): a hostile string cannot become a link, an image, a mention, raw HTML or a
//! table cell break. What becomes what, for a renderer of CommonMark with GitHub's extensions:
//! - every ASCII punctuation character is backslash-escaped (no emphasis, link, image, code
//!   span, HTML tag, entity, table pipe or heading can start);
//! - GitHub's autolinks and references are broken with a zero-width space (U+200B) where they
//!   would start: after `@` (mentions, email autolinks), in `://` (URL autolinks), after `#`
//!   (issue references), and inside `www.`;
//! - control characters are escaped first ([`crate::untrusted::esc`]), so no line breaks.

use crate::engine::{Action, Preview, PreviewStep, Waits};
use crate::graph::{Kind, StepKind};
use crate::report::{Standing, StandingStatus, StepStanding, Verification};

/// The zero-width space that keeps an autolink or a mention from forming.
const BREAK: char = '\u{200B}';

/// Clone steps of one pair and one action beyond this many are counted in one row.
const SHOWN_PER_ACTION: usize = 5;

/// `raw` as markdown inline text that renders as `raw` reads (see the module documentation).
pub fn text(raw: &str) -> String {
    let safe = crate::untrusted::esc(raw).to_string();
    let mut out = String::with_capacity(safe.len() + 8);
    // Digits from the start: `1.` or `1)` there would start a list.
    let mut leading_digits = true;
    for (at, c) in safe.char_indices() {
        match c {
            '@' | '#' => {
                out.push('\\');
                out.push(c);
                out.push(BREAK);
            }
            // `https://`: no autolink (an email's `mailto:` is broken at its `@`).
            ':' if safe[at..].starts_with("://") => {
                out.push(':');
                out.push(BREAK);
            }
            '.' if out.to_ascii_lowercase().ends_with("www") => {
                out.push(BREAK);
                out.push('.');
            }
            // What starts inline markup anywhere: emphasis, strikethrough, code, links and
            // images, HTML and autolinks, entities, table cells, math.
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '<' | '>' | '&' | '|' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // What starts a block at the start of a line: a list, a quote, a heading rule.
            c if at == 0 && c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if leading_digits && at > 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        leading_digits = leading_digits && c.is_ascii_digit();
    }
    out
}

/// `raw` as the text of an HTML element (the `<summary>` of a pair's section): entities for
/// the characters HTML gives a meaning, control characters escaped, `@` and `:` broken as in
/// [`text`].
pub fn html(raw: &str) -> String {
    let safe = crate::untrusted::esc(raw).to_string();
    let mut out = String::with_capacity(safe.len() + 8);
    for c in safe.chars() {
        match super::html::entity(c) {
            Some(entity) => out.push_str(entity),
            None => {
                out.push(c);
                if matches!(c, '@' | ':' | '#') {
                    out.push(BREAK);
                }
            }
        }
    }
    out
}

/// A pair's collapsible section: open when it holds a failure.
fn details(out: &mut String, summary: &str, open: bool, body: &str) {
    out.push_str(if open { "<details open>" } else { "<details>" });
    out.push_str("<summary>");
    out.push_str(summary);
    out.push_str("</summary>\n\n");
    out.push_str(body);
    out.push_str("\n</details>\n\n");
}

/// A table: its header and rows (cells already markdown).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a step's row calls its action (as `plan`'s human output does).
fn label(s: &PreviewStep) -> &'static str {
    match (s.observation.action, s.waits) {
        (Action::Blocked, Some(Waits::Changes)) => "after",
        (Action::Blocked, Some(Waits::UntargetedPairs)) => "waiting",
        (action, _) => action.as_str(),
    }
}

fn is_trouble(action: Action) -> bool {
    matches!(action, Action::Conflict | Action::Failed)
}

/// `plan --output markdown`: `summary` is `plan`'s summary line, `notes` what it says before
/// the steps (history this state does not know), both plain text.
pub fn plan(title: &str, summary: &str, notes: &[String], preview: &Preview) -> String {
    let mut out = format!("### nylas-migrate plan: {}\n\n", text(title));
    out.push_str(&format!("**{}**\n\n", text(summary)));
    for note in notes {
        out.push_str(&format!("> {}\n\n", text(note)));
    }
    let trouble: Vec<&PreviewStep> = preview
        .steps
        .iter()
        .filter(|s| is_trouble(s.observation.action))
        .collect();
    if !trouble.is_empty() {
        out.push_str("#### Conflicts and failures\n\n");
        let rows: Vec<Vec<String>> = trouble
            .iter()
            .map(|s| {
                vec![
                    text(s.step.id.as_str()),
                    label(s).to_owned(),
                    text(&s.observation.reason),
                ]
            })
            .collect();
        out.push_str(&table(&["step", "action", "reason"], &rows));
        out.push('\n');
    }
    let mut pairs: Vec<&str> = Vec::new();
    for s in &preview.steps {
        if !pairs.contains(&s.step.id.pair()) {
            pairs.push(s.step.id.pair());
        }
    }
    for pair in pairs {
        let steps: Vec<&PreviewStep> = preview
            .steps
            .iter()
            .filter(|s| s.step.id.pair() == pair)
            .collect();
        let changes = steps
            .iter()
            .filter(|s| {
                matches!(
                    s.observation.action,
                    Action::Create | Action::Update | Action::Attach
                ) || s.after_changes()
            })
            .count();
        let troubled = steps
            .iter()
            .filter(|s| is_trouble(s.observation.action))
            .count();
        let mut rows = Vec::new();
        let mut clones: std::collections::BTreeMap<&str, usize> = Default::default();
        for s in &steps {
            if matches!(s.step.kind, StepKind::Clone(_)) {
                let n = clones.entry(label(s)).or_default();
                *n += 1;
                if *n > SHOWN_PER_ACTION {
                    continue;
                }
            }
            rows.push(vec![
                label(s).to_owned(),
                text(s.step.id.local()),
                text(&s.observation.reason),
            ]);
        }
        for (action, n) in clones {
            if n > SHOWN_PER_ACTION {
                rows.push(vec![
                    action.to_owned(),
                    format!("… and {} more clone steps", n - SHOWN_PER_ACTION),
                    String::new(),
                ]);
            }
        }
        let mut body = table(&["action", "step", "reason"], &rows);
        if let Some(unmanaged) = preview.unmanaged_of(pair) {
            for u in &unmanaged.found {
                body.push_str(&format!(
                    "\nNot managed by this plan, left as it is: {} {} ({})\n",
                    text(&format!("{}/{}", u.kind, u.subject)),
                    text(&u.id),
                    text(&u.detail)
                ));
            }
        }
        let summary = format!(
            "{}: {}, {}, {} steps",
            html(pair),
            plural(changes, "change", "changes"),
            plural(troubled, "conflict or failure", "conflicts or failures"),
            steps.len()
        );
        details(&mut out, &summary, troubled > 0, &body);
    }
    out
}

/// `plan --offline --output markdown`: each step and what the journal recorded, a pair's
/// clones beyond the first few counted by status.
pub fn plan_offline(
    title: &str,
    summary: &str,
    steps: &[(StandingStatus, &crate::graph::Step)],
) -> String {
    let mut out = format!(
        "### nylas-migrate plan --offline: {}\n\n**{}**\n\n",
        text(title),
        text(summary)
    );
    let mut rows = Vec::new();
    let mut clones: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for (status, step) in steps {
        if matches!(step.kind, StepKind::Clone(_)) {
            let n = clones.entry((step.id.pair(), status.as_str())).or_default();
            *n += 1;
            if *n > SHOWN_PER_ACTION {
                continue;
            }
        }
        rows.push(vec![status.as_str().to_owned(), text(step.id.as_str())]);
    }
    for ((pair, status), n) in clones {
        if n > SHOWN_PER_ACTION {
            rows.push(vec![
                status.to_owned(),
                format!(
                    "… and {} more clone steps of {}",
                    n - SHOWN_PER_ACTION,
                    text(pair)
                ),
            ]);
        }
    }
    out.push_str(&table(&["journal", "step"], &rows));
    out
}

/// A status's step row: its status, its ID within the pair, and what the journal or its job
/// says.
fn status_row(step: &StepStanding) -> Vec<String> {
    let what = if let Some(job) = &step.job {
        format!(
            "job {} {} {}%: {}",
            text(&job.job_id),
            text(job.status.as_str()),
            job.percent,
            job.tally().out_of_all()
        )
    } else {
        step.detail.as_deref().map(text).unwrap_or_default()
    };
    vec![
        step.status.as_str().to_owned(),
        text(step.step.local()),
        what,
    ]
}

fn is_unfinished(status: StandingStatus) -> bool {
    matches!(status, StandingStatus::Failed | StandingStatus::Interrupted)
}

/// `status --output markdown`.
pub fn status(standing: &Standing) -> String {
    let mut out = format!("### nylas-migrate status: {}\n\n", text(&standing.plan));
    let all: Vec<&StepStanding> = standing.pairs.iter().flat_map(|p| &p.steps).collect();
    let count = |status| all.iter().filter(|s| s.status == status).count();
    out.push_str(&format!(
        "**{} steps: {} done, {} failed, {} running, {} interrupted, {} pending**\n\n",
        all.len(),
        count(StandingStatus::Done),
        count(StandingStatus::Failed),
        count(StandingStatus::Running),
        count(StandingStatus::Interrupted),
        count(StandingStatus::Pending),
    ));
    if let Some(run) = &standing.last_run {
        out.push_str(&format!(
            "Last run {} started {}{}\n\n",
            run.run_id,
            crate::state::journal::format_utc(run.started_at),
            match (&run.outcome, run.finished_at) {
                (Some(outcome), Some(at)) => format!(
                    ", {} at {}",
                    text(&outcome.to_string()),
                    crate::state::journal::format_utc(at)
                ),
                _ => ", did not finish (interrupted, or still running)".to_owned(),
            }
        ));
    }
    let trouble: Vec<&&StepStanding> = all.iter().filter(|s| is_unfinished(s.status)).collect();
    if !trouble.is_empty() {
        out.push_str("#### Failures\n\n");
        let rows: Vec<Vec<String>> = trouble
            .iter()
            .map(|s| {
                let mut row = status_row(s);
                row[1] = text(s.step.as_str());
                row
            })
            .collect();
        out.push_str(&table(&["status", "step", "detail"], &rows));
        out.push('\n');
    }
    for pair in &standing.pairs {
        let clones: Vec<&StepStanding> = pair
            .steps
            .iter()
            .filter(|s| s.kind == Kind::Clone)
            .collect();
        let mut rows: Vec<Vec<String>> = pair
            .steps
            .iter()
            .filter(|s| s.kind != Kind::Clone || clones.len() <= SHOWN_PER_ACTION)
            .map(status_row)
            .collect();
        if clones.len() > SHOWN_PER_ACTION {
            let n = |status| clones.iter().filter(|s| s.status == status).count();
            rows.push(vec![
                "clones".to_owned(),
                format!("{} test accounts", clones.len()),
                format!(
                    "{} done, {} failed, {} pending, {} interrupted",
                    n(StandingStatus::Done),
                    n(StandingStatus::Failed),
                    n(StandingStatus::Pending),
                    n(StandingStatus::Interrupted)
                ),
            ]);
        }
        let failed = pair
            .steps
            .iter()
            .filter(|s| is_unfinished(s.status))
            .count();
        let done = pair
            .steps
            .iter()
            .filter(|s| s.status == StandingStatus::Done)
            .count();
        let summary = format!(
            "{} ({}): {done} of {} steps done, {failed} failed or interrupted",
            html(&pair.pair),
            html(pair.region.as_str()),
            pair.steps.len()
        );
        details(
            &mut out,
            &summary,
            failed > 0,
            &table(&["status", "step", "detail"], &rows),
        );
    }
    out
}

/// `verify --output markdown`.
pub fn verify(v: &Verification) -> String {
    let mut out = format!("### nylas-migrate verify: {}\n\n", text(&v.plan));
    let items: usize = v.pairs.iter().map(|p| p.items.len()).sum();
    let failures: Vec<_> = v.failures().collect();
    let todo = v.todo();
    if failures.is_empty() && todo == 0 {
        out.push_str(&format!(
            "**Verified: all {items} items of {} pass.**\n\n",
            plural(v.pairs.len(), "pair", "pairs")
        ));
    } else if failures.is_empty() {
        out.push_str(&format!(
            "**Verified: every check of {} passes; {todo} of {items} items {} for a person (todo), outside what this plan can do.**\n\n",
            plural(v.pairs.len(), "pair", "pairs"),
            if todo == 1 { "is a step" } else { "are steps" }
        ));
    } else {
        out.push_str(&format!(
            "**Not verified: {} of {items} items failed.**\n\n#### Failures\n\n",
            failures.len()
        ));
        let rows: Vec<Vec<String>> = failures
            .iter()
            .map(|(pair, item)| {
                vec![
                    text(pair),
                    item.check.as_str().to_owned(),
                    text(&item.subject),
                    text(&item.evidence),
                ]
            })
            .collect();
        out.push_str(&table(&["pair", "check", "subject", "evidence"], &rows));
        out.push('\n');
    }
    for pair in &v.pairs {
        let rows: Vec<Vec<String>> = pair
            .items
            .iter()
            .map(|item| {
                vec![
                    match (item.passed, item.manual) {
                        (true, _) => "✅ ok",
                        (false, true) => "📝 todo",
                        (false, false) => "❌ FAIL",
                    }
                    .to_owned(),
                    item.check.as_str().to_owned(),
                    text(&item.subject),
                    text(&item.evidence),
                ]
            })
            .collect();
        let failed = pair.items.iter().filter(|i| i.fails()).count();
        let summary = format!(
            "{} ({}): {}, {} of {} items failed",
            html(&pair.pair),
            html(pair.region.as_str()),
            if pair.passed { "PASS" } else { "FAIL" },
            failed,
            pair.items.len()
        );
        details(
            &mut out,
            &summary,
            !pair.passed,
            &table(&["", "check", "subject", "evidence"], &rows),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_what_markdown_or_github_would_give_a_meaning() {
        for (raw, shown) in [
            ("plain words 42", "plain words 42"),
            ("[x](https://evil)", "\\[x\\](https:\u{200B}//evil)"),
            ("Plan: 2 changes", "Plan: 2 changes"),
            ("![i](y)", "\\!\\[i\\](y)"),
            ("<img src=x>", "\\<img src=x\\>"),
            ("@octocat", "\\@\u{200B}octocat"),
            ("a@b.example", "a\\@\u{200B}b.example"),
            ("www.evil.example", "www\u{200B}.evil.example"),
            ("#12", "\\#\u{200B}12"),
            ("a|b", "a\\|b"),
            ("&amp;", "\\&amp;"),
            ("*_~`$", "\\*\\_\\~\\`\\$"),
            ("- item", "\\- item"),
            ("> quote", "\\> quote"),
            ("12. item", "12\\. item"),
            ("a-b-c 1.5", "a-b-c 1.5"),
            ("line\nbreak", "line\\\\nbreak"),
            ("\u{1b}[2J", "\\\\u{1b}\\[2J"),
            ("café", "café"),
        ] {
            assert_eq!(text(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn html_escapes_what_html_gives_a_meaning() {
        for (raw, shown) in [
            ("pair-1", "pair-1"),
            ("<b>&\"'", "&lt;b&gt;&amp;&quot;&#39;"),
            ("@x", "@\u{200B}x"),
            ("a\nb", "a\\nb"),
        ] {
            assert_eq!(html(raw), shown, "{raw:?}");
        }
    }

    /// Strings a plan, the journal or a hostile server could hold.
    const HOSTILE: &[&str] = &[
        "[click](https://evil.example/x)",
        "![pixel](https://evil.example/p.png)",
        "<img src=x onerror=alert(1)>",
        "</summary></details><script>alert(1)</script>",
        "@octocat and @org/team",
        "see www.evil.example or https://evil.example",
        "mail admin@evil.example",
        "<https://evil.example>",
        "[ref]\n\n[ref]: https://evil.example",
        "| broken | table |",
        "`code` *em* _em_ ~~del~~ #1 :tada:",
        "&lt;b&gt; &#x3C;i&#x3E;",
        "\u{1b}]0;owned\u{7}\r\u{202e}",
    ];

    fn hostile(n: usize) -> String {
        HOSTILE[n % HOSTILE.len()].to_owned()
    }

    /// Parses `markdown` as CommonMark with GitHub's extensions and fails on a link, an
    /// image, HTML other than the sections' own tags, or text GitHub would turn into a
    /// mention or an autolink.
    fn assert_inert(markdown: &str) {
        use pulldown_cmark::{Event, Options, Parser, Tag};
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_GFM;
        for event in Parser::new_ext(markdown, options) {
            match &event {
                Event::Start(Tag::Link { .. } | Tag::Image { .. }) => {
                    panic!("{event:?} in:\n{markdown}")
                }
                Event::Html(html) | Event::InlineHtml(html) => {
                    let mut rest = html.to_string();
                    for tag in [
                        "<details open>",
                        "<details>",
                        "</details>",
                        "<summary>",
                        "</summary>",
                    ] {
                        rest = rest.replace(tag, "");
                    }
                    assert!(
                        !rest.contains(['<', '>']),
                        "HTML from input: {html:?} in:\n{markdown}"
                    );
                }
                Event::Text(text) | Event::Code(text) => {
                    let text = text.to_lowercase();
                    for (at, _) in text.match_indices('@') {
                        assert!(
                            text[at + 1..].starts_with(BREAK),
                            "a mention or an email: {text:?}"
                        );
                    }
                    for trigger in ["://", "www.", "mailto:", "#1"] {
                        assert!(!text.contains(trigger), "an autolink: {text:?}");
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn verify_and_status_make_nothing_live_from_hostile_strings() {
        use crate::report::{Check, Item, PairStanding, PairVerification, StepStanding};
        let verification = Verification {
            v: 1,
            plan: hostile(0),
            passed: false,
            pairs: (0..3)
                .map(|p| PairVerification {
                    pair: hostile(p + 3),
                    region: crate::api::Region::Us,
                    passed: p != 1,
                    items: (0..HOSTILE.len())
                        .map(|n| Item {
                            check: Check::Webhook,
                            subject: hostile(n),
                            passed: n % 2 == 0,
                            manual: n % 3 == 0,
                            evidence: hostile(n + 1),
                        })
                        .collect(),
                })
                .collect(),
        };
        let shown = verify(&verification);
        assert!(shown.contains("#### Failures"), "{shown}");
        assert_inert(&shown);

        let standing = Standing {
            plan: hostile(4),
            last_run: None,
            pairs: vec![PairStanding {
                pair: hostile(2),
                region: crate::api::Region::Eu,
                steps: (0..HOSTILE.len())
                    .map(|n| StepStanding {
                        step: crate::graph::StepId::new("p", Kind::Webhook, Some(&hostile(n))),
                        kind: Kind::Webhook,
                        status: if n % 3 == 0 {
                            StandingStatus::Failed
                        } else {
                            StandingStatus::Done
                        },
                        run_id: Some(1),
                        request_id: None,
                        detail: Some(hostile(n + 2)),
                        job: None,
                    })
                    .collect(),
            }],
        };
        let shown = status(&standing);
        assert!(shown.contains("#### Failures"), "{shown}");
        assert_inert(&shown);
        // Every hostile string is still there, as text a person can read.
        assert!(shown.contains("octocat"), "{shown}");
    }

    #[test]
    fn offline_plans_count_a_pairs_clones_beyond_the_first_few() {
        let accounts: Vec<String> = (0..8).map(|n| format!("acct{n:021}")).collect();
        let text = format!(
            "version: 1\nname: many\npairs:\n  - name: p\n    region: us\n    v2: {{ app_id: pp02v2app00000000000001, client_secret: {{ env: S }} }}\n    v3: {{ app_id: 0a0a0a0a-0000-4000-8000-00000000000a, api_key: {{ env: K }} }}\n    clone:\n      single: [{}]\n",
            accounts.join(", ")
        );
        let plan = crate::plan::load_str(std::path::Path::new("p.yaml"), "p.yaml", &text)
            .unwrap_or_else(|e| panic!("{:?}", e.diagnostics))
            .plan;
        let graph = crate::graph::StepGraph::build(&plan).unwrap();
        let steps: Vec<(StandingStatus, &crate::graph::Step)> = graph
            .steps()
            .map(|s| (StandingStatus::Pending, s))
            .collect();
        let shown = plan_offline("many", "Offline", &steps);
        assert_eq!(
            shown.matches("| pending | p/clone/").count(),
            SHOWN_PER_ACTION
        );
        assert!(
            shown.contains("| pending | … and 3 more clone steps of p |"),
            "{shown}"
        );
        assert!(shown.contains("| pending | p/link |"), "{shown}");
    }
}
