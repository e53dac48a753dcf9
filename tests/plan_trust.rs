//! A plan is untrusted input until merged: what it may not do. It may not show a secret written
//! in any shape, send the API keys to a host of its choosing, read secret files outside its
//! folder, or put control characters on a terminal. Also how secret files and variables are
//! read.

mod common;

use common::{run, stderr, stdout};

const V3_APP: &str = "ad410018-d306-43f9-8361-fa5d7b2172e0";

/// A one-pair plan whose v3 `api_key` is `api_key` (YAML, on one line or a block).
fn plan_with_api_key(api_key: &str) -> String {
    format!(
        "version: 1\nname: trust\npairs:\n  - name: p\n    region: us\n    v2: {{ app_id: abc, client_secret: {{ env: A }} }}\n    v3:\n      app_id: {V3_APP}\n      api_key: {api_key}\n"
    )
}

/// `validate` of `text` in human and JSON output, stdout and stderr together, with the file's
/// path replaced by `PLAN`.
fn validate_outputs(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.yaml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    let mut outputs = Vec::new();
    for output in ["human", "json"] {
        let out = run(&["--output", output, "validate", path]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        outputs.push(format!("{}{}", stdout(&out), stderr(&out)).replace(path, "PLAN"));
    }
    (outputs.remove(0), outputs.remove(0))
}

#[test]
fn a_secret_written_in_any_shape_is_reported_and_never_shown() {
    let secret = "nyk_v0_Canary5ecretValueNeverShown123";
    let shapes = [
        format!("{{ value: {secret} }}"),
        format!("[{secret}]"),
        format!("[{{ key: {secret} }}]"),
        format!("{{ {secret}: x }}"),
        format!("{{ env: OK_NAME, value: {secret} }}"),
        format!("|\n        {secret}\n        second-line-{secret}"),
        format!("\"{secret}\""),
        "12345678901234567890".to_owned(),
    ];
    for shape in &shapes {
        let (human, json) = validate_outputs(&plan_with_api_key(shape));
        for (name, all) in [("human", &human), ("json", &json)] {
            assert!(
                all.contains("plan::inline-secret"),
                "{shape}: {name} output reports it:\n{all}"
            );
            assert!(
                !all.contains("Canary5ecret") && !all.contains("1234567890"),
                "{shape}: the secret leaked in {name} output:\n{all}"
            );
        }
    }
}

#[test]
fn the_mask_does_not_tell_the_secret_s_length() {
    for (short, long) in [
        ("s3cr3t", "a-much-longer-secret-value-of-forty-chars"),
        (
            "{ value: s3cr3t }",
            "{ value: a-much-longer-secret-value-of-forty-chars }",
        ),
        ("[s3cr3t]", "[a-much-longer-secret-value-of-forty-chars]"),
    ] {
        let (short_human, short_json) = validate_outputs(&plan_with_api_key(short));
        let (long_human, long_json) = validate_outputs(&plan_with_api_key(long));
        assert_eq!(
            short_human, long_human,
            "the human report is the same whatever the secret's length"
        );
        assert_eq!(short_json, long_json);
        assert!(short_human.contains("********"), "{short_human}");
    }
}

#[test]
fn a_reference_of_the_wrong_shape_names_both_kinds_of_reference() {
    // (The JSON output, whose help lines are not wrapped.)
    let (_, json) = validate_outputs(&plan_with_api_key("{ env: A, file: b }"));
    assert!(json.contains("{ env: NAME }"), "{json}");
    assert!(json.contains("{ file: PATH }"), "{json}");
    // A connector's client_id may be written, or referenced in either way.
    let text = plan_with_api_key("{ env: B }").replace(
        "    v3:",
        "    connectors:\n      - provider: microsoft\n        settings: { client_id: { value: x }, client_secret: { env: C } }\n    v3:",
    );
    let (_, json) = validate_outputs(&text);
    assert!(
        json.contains("{ env: NAME }") && json.contains("{ file: PATH }"),
        "{json}"
    );
    assert!(json.contains("plan::wrong-type"), "{json}");
}
