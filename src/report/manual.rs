//! What only people can do: the steps a plan implies outside the Nylas API (in Google Cloud,
//! in Azure, in the application's own login page), with the exact values for each pair and
//! region. Every fact comes from Nylas's migration and upgrade guides as the contract's README
//! quotes them: the v3 hosted-auth callback per region, the new Azure app, the Google
//! connector's Pub/Sub `topic_name`, the login page's redirect URIs.

use serde::Serialize;

use crate::api::{ConnectorProvider, Region};
use crate::plan::{Plan, SecretRef, SettingValue};

/// Which step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ManualKind {
    /// Add the v3 callback to the Google Cloud OAuth client.
    GoogleCallback,
    /// A new Azure app with the v3 callback (the v2 one cannot be reused).
    AzureApp,
    /// The Pub/Sub topic a Google connector's `topic_name` names (Gmail notifications).
    GmailTopic,
    /// The login page moves to v3 hosted authentication.
    LoginPage,
}

/// One step for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualStep {
    pub pair: String,
    pub region: Region,
    pub kind: ManualKind,
    /// Where it is done: `Google Cloud console`, `Azure portal`, `your application`.
    pub place: &'static str,
    /// The exact value to enter or use.
    pub value: String,
    /// What to do, in one sentence.
    pub text: String,
}

/// Nylas's v3 hosted-authentication callback for a region: always Nylas's own host, whatever
/// API URL the plan points the region at.
pub fn v3_callback(region: Region) -> String {
    format!("{}/v3/connect/callback", region.default_api_url())
}

fn reference(value: &SettingValue) -> String {
    match value {
        SettingValue::Literal(id) => format!("client ID {id}"),
        SettingValue::Secret(r) => format!("client ID from {}", describe(r)),
    }
}

fn describe(r: &SecretRef) -> String {
    r.to_string()
}

/// The steps `plan` implies, pair by pair, in plan order.
pub fn manual_steps(plan: &Plan) -> Vec<ManualStep> {
    let mut steps = Vec::new();
    for pair in &plan.pairs {
        let callback = v3_callback(pair.region);
        let fix = |p: ConnectorProvider| pair.connectors.iter().find(|c| c.provider == p);
        let google = fix(ConnectorProvider::Google);
        let google_client = google
            .and_then(|c| c.settings.as_ref())
            .and_then(|s| s.client_id.as_ref())
            .map(|id| format!(" ({})", reference(id)))
            .unwrap_or_default();
        steps.push(ManualStep {
            pair: pair.name.clone(),
            region: pair.region,
            kind: ManualKind::GoogleCallback,
            place: "Google Cloud console",
            value: callback.clone(),
            text: format!(
                "if the application has Google accounts: add {callback} as an authorized redirect URI of the OAuth client its Google connector uses{google_client}"
            ),
        });
        let microsoft = fix(ConnectorProvider::Microsoft)
            .and_then(|c| c.settings.as_ref())
            .and_then(|s| s.client_id.as_ref());
        steps.push(ManualStep {
            pair: pair.name.clone(),
            region: pair.region,
            kind: ManualKind::AzureApp,
            place: "Azure portal",
            value: callback.clone(),
            text: match microsoft {
                Some(id) => format!(
                    "the v2 Azure app cannot be reused for v3: the new Azure app the plan's Microsoft connector uses ({}) must list {callback} as a redirect URI",
                    reference(id)
                ),
                None => format!(
                    "if the application has Microsoft accounts: the v2 Azure app cannot be reused for v3; register a new Azure app with {callback} as a redirect URI, and add a Microsoft connector fix with its client_id and client_secret to this plan (import leaves the connector without credentials)"
                ),
            },
        });
        if let Some(topic) = google
            .and_then(|c| c.settings.as_ref())
            .and_then(|s| s.topic_name.as_ref())
        {
            steps.push(ManualStep {
                pair: pair.name.clone(),
                region: pair.region,
                kind: ManualKind::GmailTopic,
                place: "Google Cloud console",
                value: topic.clone(),
                text: format!(
                    "Gmail notifications: the Google connector's topic_name names the Google Pub/Sub topic {topic}, which must exist in your Google Cloud project"
                ),
            });
        }
        steps.push(ManualStep {
            pair: pair.name.clone(),
            region: pair.region,
            kind: ManualKind::LoginPage,
            place: "your application",
            value: pair.v3.app_id.clone(),
            text: format!(
                "move the login page to v3 hosted authentication with v3 application {} ({}): the callback it uses must be one of the application's redirect URIs (import copies the v2 application's; check them in the dashboard)",
                pair.v3.app_id,
                pair.region.default_api_url()
            ),
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_per_pair_and_region_from_the_plan() {
        let plan = crate::plan::load_str(
            std::path::Path::new("p.yaml"),
            "p.yaml",
            r#"version: 1
name: m
pairs:
  - name: eu-prod
    region: eu
    v2: { app_id: abc, client_secret: { env: V2 } }
    v3: { app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: { env: V3 } }
    connectors:
      - provider: google
        settings: { client_id: { env: GCP_ID }, client_secret: { env: GCP_SECRET }, topic_name: projects/acme/topics/gmail }
"#,
        )
        .unwrap()
        .plan;
        let steps = manual_steps(&plan);
        let kinds: Vec<_> = steps.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                ManualKind::GoogleCallback,
                ManualKind::AzureApp,
                ManualKind::GmailTopic,
                ManualKind::LoginPage
            ]
        );
        assert_eq!(
            steps[0].value,
            "https://api.eu.nylas.com/v3/connect/callback"
        );
        assert!(
            steps[0].text.contains("environment variable GCP_ID"),
            "{}",
            steps[0].text
        );
        assert_eq!(steps[2].value, "projects/acme/topics/gmail");
        assert!(steps[1].text.contains("register a new Azure app"));
    }
}
