//! Every example plan of `examples/` (the top-level ones; `examples/invalid/` are meant to fail)
//! rehearsed against the simulator: after one apply, a second apply makes no write (the
//! simulator's counters) and says the live state matches the plan, `plan --detailed-exitcode`
//! exits 0 and `verify` exits 0. The three commands that judge the live state agree on each
//! example a user starts from.

use std::path::Path;
use std::process::Output;

use crate::support::rehearsal::{self, Rehearsal};
use crate::support::sim::check_responses;
use crate::support::{rel, root, stderr, stdout};
use nylas_migrate::api::ConnectorProvider;
use nylas_migrate::simulator::AccountProvider;

/// Accounts in each rehearsal's world: enough for every wave to have work, few enough to stay
/// fast.
const ACCOUNTS: usize = 24;

/// The plan's text with every `{ file: PATH }` secret read from an environment variable
/// instead, so that the rehearsal (in a folder of its own) knows its value: how a secret is
/// read is not what this test is about.
fn secrets_from_env(text: &str) -> String {
    let pattern = regex::Regex::new(r"\{ file: [^}]+ \}").unwrap();
    let mut n = 0;
    pattern
        .replace_all(text, |_: &regex::Captures<'_>| {
            n += 1;
            format!("{{ env: REHEARSAL_FILE_SECRET_{n} }}")
        })
        .into_owned()
}

/// Runs the binary; says which example and command when it exits otherwise than `code`.
async fn run(r: &Rehearsal, example: &str, args: &[&str], code: i32) -> Output {
    let out = r.run(args).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "{example}: {args:?}\n--- stdout\n{}--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

async fn converges(path: &Path) {
    let example = rel(path);
    let text = secrets_from_env(&std::fs::read_to_string(path).unwrap());
    // `verify` asks that a Microsoft connector (import makes one from a v2 Microsoft
    // integration) has the new Azure app, which only a connector fix in the plan gives: an
    // example without one is rehearsed on a world without Microsoft integrations or accounts
    // (they become Google ones).
    let fixes_microsoft = rehearsal::parse(&text).pairs.iter().all(|p| {
        p.connectors
            .iter()
            .any(|c| c.provider == ConnectorProvider::Microsoft)
    });
    let r = rehearsal::start(&text, ACCOUNTS, |world, config| {
        config.record_responses = true;
        if !fixes_microsoft {
            for app in &mut world.v2_apps {
                app.integrations
                    .retain(|p| *p != AccountProvider::Microsoft);
                for account in &mut app.accounts {
                    if account.provider == AccountProvider::Microsoft {
                        account.provider = AccountProvider::Google;
                    }
                }
            }
        }
    })
    .await;
    let plan = r.plan_arg();
    let first = run(&r, &example, &["apply", &plan, "--yes"], 0).await;
    assert!(
        stdout(&first).contains("the live state matches the plan"),
        "{example}:\n{}",
        stdout(&first)
    );
    let writes = r.sim.stats().writes();
    assert!(writes > 0, "{example}: the first apply wrote nothing");

    let second = run(&r, &example, &["apply", &plan, "--yes"], 0).await;
    assert_eq!(
        r.sim.stats().writes(),
        writes,
        "{example}: the second apply wrote\n{}",
        stdout(&second)
    );
    assert!(
        stdout(&second).contains("the live state matches the plan"),
        "{example}:\n{}",
        stdout(&second)
    );
    run(&r, &example, &["plan", &plan, "--detailed-exitcode"], 0).await;
    run(&r, &example, &["verify", &plan], 0).await;
    assert_eq!(
        r.sim.stats().writes(),
        writes,
        "{example}: plan or verify wrote"
    );
    check_responses(&r.sim.recorded_responses());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_of_every_example_writes_nothing_and_plan_apply_verify_agree() {
    let examples = crate::support::yaml_files("examples");
    assert!(
        examples.len() >= 4,
        "{} examples in {}",
        examples.len(),
        root().join("examples").display()
    );
    // One rehearsal per example, side by side: each has its own simulator and folder.
    futures::future::join_all(examples.iter().map(|path| converges(path))).await;
}
