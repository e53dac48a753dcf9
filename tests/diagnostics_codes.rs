//! Every diagnostic code in `nylas_migrate::code::Code` is produced somewhere that a test
//! sees: by a plan in `examples/invalid/` that `validate` reports it for, or by a named test
//! that asserts it. The README lists the plan's codes, and only codes that exist.

use crate::support::cli::Test;
use crate::support::{rel, root, stdout, yaml_files};
use miette::Diagnostic;
use nylas_migrate::code::{Code, PRODUCERS, Producer};
use serde_json::Value;

#[test]
fn every_code_has_exactly_one_producer_row() {
    for code in Code::ALL {
        let rows = PRODUCERS.iter().filter(|(c, _)| c == code).count();
        assert_eq!(rows, 1, "{}: {rows} rows in code::PRODUCERS", code.as_str());
    }
    assert_eq!(PRODUCERS.len(), Code::ALL.len());
}

/// The codes `validate` reports for `file`.
fn validated(file: &str) -> Vec<String> {
    let out = Test::new()
        .args(["--output", "json", "validate", file])
        .run();
    assert_eq!(out.status.code(), Some(1), "{file} is invalid");
    let event: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    event["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn each_example_producer_makes_validate_report_its_code() {
    for (code, producer) in PRODUCERS {
        let Producer::Example(file) = producer else {
            continue;
        };
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            text.contains(&format!("# expect: {} at ", code.as_str())),
            "{file} declares {}",
            code.as_str()
        );
        assert!(
            validated(file).iter().any(|c| c == code.as_str()),
            "{file} does not produce {}",
            code.as_str()
        );
    }
}

#[test]
fn invalid_examples_declare_only_codes_of_the_list() {
    for path in yaml_files("examples/invalid") {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter_map(|l| l.strip_prefix("# expect: ")) {
            let code = line.split(' ').next().unwrap();
            assert!(Code::parse(code).is_some(), "{}: {code}", rel(&path));
        }
    }
}

/// The text of the test function `name` in `text`, from its `fn` line to its closing brace
/// (rustfmt's layout: the brace alone at the `fn`'s indentation), if it is a test.
fn test_function<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| {
        let l = l.trim_start();
        l.starts_with(&format!("fn {name}(")) || l.starts_with(&format!("async fn {name}("))
    })?;
    let indent = &lines[at][..lines[at].len() - lines[at].trim_start().len()];
    let attributes = lines[..at]
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with("#[") || l.trim_start().starts_with("//"));
    let is_test = attributes
        .clone()
        .any(|l| l.trim_start().starts_with("#[test]") || l.contains("::test"));
    if !is_test {
        return None;
    }
    let start = text.find(&format!("\n{}\n", lines[at]))? + 1;
    let rest = &text[start..];
    let close = rest.find(&format!("\n{indent}}}\n"))?;
    Some(&rest[..close])
}

#[test]
fn each_named_test_exists_and_asserts_its_code() {
    for (code, producer) in PRODUCERS {
        let Producer::Test(file, name) = producer else {
            continue;
        };
        let text = std::fs::read_to_string(root().join(file))
            .unwrap_or_else(|e| panic!("{}: {file}: {e}", code.as_str()));
        let body = test_function(&text, name)
            .unwrap_or_else(|| panic!("{}: no test `{name}` in {file}", code.as_str()));
        let variant = format!("Code::{code:?}");
        let string = format!("\"{}\"", code.as_str());
        assert!(
            body.contains(&variant) || body.contains(&string),
            "{file}::{name} does not assert {} ({variant})",
            code.as_str()
        );
    }
}

#[test]
fn the_check_of_named_tests_can_fail() {
    let text = "fn helper() {\n    Code::PlanSyntax;\n}\n\n#[test]\nfn t() {\n    let x = 1;\n}\n";
    assert!(test_function(text, "helper").is_none(), "not a test");
    let body = test_function(text, "t").unwrap();
    assert!(!body.contains("Code::PlanSyntax"), "{body}");
    assert!(test_function(text, "absent").is_none());
}

#[test]
fn a_plan_that_skipped_validation_gets_graph_errors() {
    // Validation refuses both plans; the graph still guards against a plan built without it.
    let pair = |name: &str, n: u8, after: &str| {
        format!(
            "  - name: {name}\n    region: us\n    v2: {{ app_id: app{n}, client_secret: {{ env: A }} }}\n    v3: {{ app_id: 0c0c0c0c-0000-4000-8000-00000000000{n}, api_key: {{ env: B }} }}\n    after: [{after}]\n"
        )
    };
    let build = |pairs: String| {
        let text = format!("version: 1\nname: unvalidated\npairs:\n{pairs}");
        let plan: nylas_migrate::plan::Plan = nylas_migrate::yaml::from_str(&text).unwrap();
        let err = nylas_migrate::graph::StepGraph::build(&plan).unwrap_err();
        let code = err.code().map(|c| c.to_string()).unwrap_or_default();
        let help = err.help().map(|h| h.to_string()).unwrap_or_default();
        assert!(help.contains("this is a bug in nylas-migrate"), "{help}");
        code
    };
    let cycle = build(pair("a", 1, "b") + &pair("b", 2, "a"));
    assert_eq!(cycle, Code::GraphCycle.as_str());
    let unknown = build(pair("a", 1, "nowhere"));
    assert_eq!(unknown, Code::GraphUnknownPair.as_str());
}

#[test]
fn the_readme_lists_every_plan_code_and_only_codes_of_the_list() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for code in Code::ALL.iter().filter(|c| c.area() == "plan") {
        assert!(
            readme.contains(&format!("`{}`", code.as_str())),
            "README.md does not list {}",
            code.as_str()
        );
    }
    // Every `area::name` in backquotes that looks like a code is one.
    let areas: std::collections::HashSet<&str> = Code::ALL.iter().map(|c| c.area()).collect();
    for quoted in readme.split('`').skip(1).step_by(2) {
        let Some((area, name)) = quoted.split_once("::") else {
            continue;
        };
        if areas.contains(area)
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        {
            assert!(
                Code::parse(quoted).is_some(),
                "README.md names `{quoted}`, which is no code"
            );
        }
    }
}
