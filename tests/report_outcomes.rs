//! `report --outcome placeholder,failed`: only the users who must sign in again, with the
//! columns a mail merge needs.

use crate::support;

use crate::support::rehearsal;
use crate::support::stdout;
use nylas_migrate::api::GrantStatus;

const PLAN: &str = r#"version: 1
name: reauth
pairs:
  - name: us
    region: us
    v2: { app_id: reaus2v2app00000000000001, client_secret: { env: R_US_V2 } }
    v3: { app_id: 3c3c3c3c-0000-4000-8000-000000000001, api_key: { env: R_US_V3 } }
    connectors:
      - provider: microsoft
        settings: { client_id: { env: AZ_ID }, client_secret: { env: AZ_SECRET }, tenant: common }
    clone:
      batches:
        - { name: everyone, mode: all }
  - name: eu
    region: eu
    v2: { app_id: reaeu2v2app00000000000001, client_secret: { env: R_EU_V2 } }
    v3: { app_id: 4d4d4d4d-0000-4000-8000-000000000002, api_key: { env: R_EU_V3 } }
    clone:
      single: [reaeu0account00000000001]
      placeholders: { allow_invalid_grant_creation: false }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholders_and_failures_with_mail_merge_columns() {
    let r = rehearsal::start(PLAN, 150, |world, _| {
        let eu = world
            .v2_apps
            .iter_mut()
            .find(|a| a.id == "reaeu2v2app00000000000001")
            .unwrap();
        eu.accounts[0].migratable = false;
    })
    .await;
    let applied = r.apply().await;
    assert_eq!(applied.status.code(), Some(1), "the EU test account fails");
    let view = r.sim.world();
    let mut placeholders: Vec<String> = view
        .app("3c3c3c3c-0000-4000-8000-000000000001")
        .unwrap()
        .grants
        .iter()
        .filter(|g| g.grant_status == Some(GrantStatus::Invalid))
        .map(|g| g.email.clone().unwrap())
        .collect();
    placeholders.sort();
    assert!(!placeholders.is_empty(), "the world has no placeholder");

    let out = r
        .run(&["report", &r.plan_arg(), "--outcome", "placeholder,failed"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let text = stdout(&out);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "email",
            "provider",
            "pair",
            "account_id",
            "outcome",
            "reason"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut got: Vec<String> = rows
        .iter()
        .filter(|r| &r[4] == "placeholder")
        .map(|r| {
            assert_eq!(&r[2], "us");
            assert!(r[5].contains("sign in again"), "{r:?}");
            r[0].to_owned()
        })
        .collect();
    got.sort();
    assert_eq!(got, placeholders);
    let failed: Vec<_> = rows.iter().filter(|r| &r[4] == "failed").collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert_eq!(&failed[0][2], "eu");
    assert_eq!(&failed[0][3], "reaeu0account00000000001");
    assert!(
        failed[0][5].contains("placeholder grant creation is disabled"),
        "{text}"
    );
    assert_eq!(rows.len(), placeholders.len() + 1, "nothing else: {text}");

    // One outcome alone, and JSON.
    let only = r
        .run(&[
            "report",
            &r.plan_arg(),
            "--outcome",
            "failed",
            "--format",
            "json",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_str(&stdout(&only)).unwrap();
    assert_eq!(v["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(v["accounts"][0]["outcome"], "failed");
    let bad = r.run(&["report", &r.plan_arg(), "--outcome", "lost"]).await;
    assert_eq!(bad.status.code(), Some(64), "a usage error");
    r.sim.shutdown().await;
}
