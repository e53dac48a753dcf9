//! `connector/<provider>`: a connector's settings and scope, fixed after import.

use std::collections::BTreeSet;
use std::convert::Infallible;

use serde_json::{Map, Value};

use crate::api::{Connector, CreateConnector, Region, UpdateConnector};
use crate::client::Secret;
use crate::graph::ConnectorStep;

use super::checklist::{Check, VerifyItem};
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx};
use crate::engine::EngineError;
use crate::state::journal::StepRecord;

/// Connector: create it, or replace its settings and scope; both converge on the same state,
/// so repeating is harmless. Secrets cannot be read back: the journal keeps a keyed
/// fingerprint of each secret written (never the secret), and a connector whose secret this
/// journal did not write with the same fingerprint is updated.
pub(super) struct ConnectorKind;

/// What a connector fix journals: create or update, and the fingerprints of the secrets it
/// wrote (with the outcome only).
#[derive(Debug, Clone)]
pub(super) struct ConnectorRecord {
    pub verb: Verb,
    pub request_id: Option<String>,
    pub fingerprints: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verb {
    Create,
    Update,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
        }
    }
}

impl From<ConnectorRecord> for StepRecord {
    fn from(r: ConnectorRecord) -> StepRecord {
        StepRecord {
            action: Some(r.verb.as_str().into()),
            request_id: r.request_id,
            fingerprints: r.fingerprints,
            ..StepRecord::default()
        }
    }
}

/// The settings a connector fix writes, resolved; and the fingerprints of its secrets.
pub(super) struct DesiredConnector {
    pub settings: Option<Map<String, Value>>,
    pub scope: Option<Vec<String>>,
    pub fingerprints: Vec<(String, String)>,
}

impl StepDriver for ConnectorKind {
    type Spec = ConnectorStep;
    type Found = DesiredConnector;
    type Write = (DesiredConnector, Verb);
    type Follow = Infallible;
    type Record = ConnectorRecord;

    /// A connector found as planned keeps the record (and the fingerprints) of the run that
    /// wrote it.
    const RECORDS_FOUND: bool = false;
    const LIFTS_REFUSALS: bool = true;

    async fn observe(
        cx: &StepCx<'_>,
        c: &ConnectorStep,
    ) -> Result<Observed<DesiredConnector>, EngineError> {
        let desired = desired_connector(cx, c)?;
        let live = cx.app().get_connector(c.provider).await?.data;
        let Some(live) = live else {
            return Ok(Observed::new(
                Action::Create,
                format!("no {} connector yet", c.provider),
                desired,
            ));
        };
        let recorded = cx
            .journal_state()?
            .map(|s| s.record.fingerprints)
            .unwrap_or_default();
        Ok(match connector_difference(&live, &desired, &recorded) {
            None => Observed::new(
                Action::Unchanged,
                format!("{} connector has the plan's settings and scope", c.provider),
                desired,
            ),
            Some(why) => Observed::new(
                Action::Update,
                format!("{} connector {why}", c.provider),
                desired,
            ),
        })
    }

    async fn intend(
        _: &WriteCx<'_>,
        _: &ConnectorStep,
        desired: DesiredConnector,
        action: Action,
    ) -> Result<Intent<Self>, EngineError> {
        let verb = if action == Action::Create {
            Verb::Create
        } else {
            Verb::Update
        };
        Ok(Intent::Write {
            record: ConnectorRecord {
                verb,
                request_id: None,
                fingerprints: Vec::new(),
            },
            write: (desired, verb),
        })
    }

    async fn write(
        cx: &WriteCx<'_>,
        c: &ConnectorStep,
        (desired, verb): (DesiredConnector, Verb),
    ) -> Result<Sent<Self>, EngineError> {
        let app = cx.app();
        let request_id = match verb {
            Verb::Create => {
                app.create_connector(&CreateConnector {
                    provider: c.provider,
                    settings: desired.settings,
                    scope: desired.scope,
                })
                .await?
                .request_id
            }
            Verb::Update => {
                app.update_connector(
                    c.provider,
                    &UpdateConnector {
                        settings: desired.settings,
                        scope: desired.scope,
                        active_credential_id: None,
                    },
                )
                .await?
                .request_id
            }
        };
        Ok(Sent::Done {
            record: ConnectorRecord {
                verb,
                request_id,
                fingerprints: desired.fingerprints,
            },
            outcome: Outcome::Changed(format!("{}d {} connector", verb.as_str(), c.provider)),
        })
    }
}

fn desired_connector(cx: &StepCx<'_>, c: &ConnectorStep) -> Result<DesiredConnector, EngineError> {
    let ctx = cx.ctx;
    let pair = &cx.pair().name;
    let mut fingerprints = Vec::new();
    let settings = match &c.settings {
        None => None,
        Some(s) => {
            let mut map = Map::new();
            if let Some(id) = &s.client_id {
                let id = ctx.source().setting(
                    id,
                    &format!("{} connector client_id", c.provider),
                    pair,
                )?;
                map.insert("client_id".into(), id.expose().into());
            }
            if let Some(secret) = &s.client_secret {
                let secret: Secret = ctx.source().resolve(
                    secret,
                    &format!("{} connector client_secret", c.provider),
                    pair,
                )?;
                if let Some(f) = ctx.fingerprinter() {
                    fingerprints.push(("client_secret".to_owned(), f.fingerprint(pair, &secret)));
                }
                map.insert("client_secret".into(), secret.expose().into());
            }
            if let Some(tenant) = &s.tenant {
                map.insert("tenant".into(), tenant.clone().into());
            }
            if let Some(topic) = &s.topic_name {
                map.insert("topic_name".into(), topic.clone().into());
            }
            Some(map)
        }
    };
    Ok(DesiredConnector {
        settings,
        scope: c.scope.clone(),
        fingerprints,
    })
}

/// Why a live connector differs from the plan, or `None` when it matches. `recorded`: the
/// fingerprints the journal holds for the secrets it last wrote.
/// `verify`'s `microsoft-credentials` item, given the Microsoft connector live (if any) and
/// whether the plan fixes it. Import makes a Microsoft connector without credentials from a v2
/// Microsoft integration, and Microsoft accounts clone only once it has its new Azure app.
/// With a Microsoft connector fix in the plan, `plan` and `apply` compare its `client_id` with
/// the plan's ([`connector_difference`]) and write it: a connector without one fails. Without
/// such a fix no apply of this plan can give it credentials (they come from an Azure app a
/// person registers, which `plan` lists among its manual steps), so `plan` and `apply` have
/// nothing to change and say the live state matches the plan: the item is then that manual
/// step, listed with what to do and not failed, so that the three agree.
pub fn microsoft_credentials(
    live: Option<&Connector>,
    fixed_by_plan: bool,
    region: Region,
) -> VerifyItem {
    let client_id = live
        .and_then(|c| c.settings.as_ref())
        .and_then(|s| s.get("client_id"))
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty());
    let check = Check::MicrosoftCredentials;
    match client_id {
        Some(_) => VerifyItem::new(
            check,
            "microsoft",
            true,
            "the Microsoft connector has its Azure app's client_id (its secret cannot be read back)",
        ),
        None if fixed_by_plan => VerifyItem::new(
            check,
            "microsoft",
            false,
            "the Microsoft connector has no client_id, though the plan's connector fix gives one: run apply",
        ),
        None => VerifyItem::manual(
            check,
            "microsoft",
            format!(
                "the Microsoft connector has no client_id (import leaves it without credentials) and the plan has no Microsoft connector fix: register a new Azure app with {} as a redirect URI and add a Microsoft connector fix with its client_id and client_secret to the plan",
                crate::report::manual::v3_callback(region)
            ),
        ),
    }
}

fn connector_difference(
    live: &Connector,
    desired: &DesiredConnector,
    recorded: &[(String, String)],
) -> Option<String> {
    let mut differences = Vec::new();
    if let Some(scope) = &desired.scope {
        let want: BTreeSet<&str> = scope.iter().map(String::as_str).collect();
        let have: BTreeSet<&str> = live.scope.iter().flatten().map(String::as_str).collect();
        if want != have {
            differences.push("scope".to_owned());
        }
    }
    if let Some(settings) = &desired.settings {
        for (key, value) in settings {
            if key == "client_secret" {
                // Secrets cannot be read back: matching means this journal wrote this very
                // secret (same keyed fingerprint).
                let want = desired.fingerprints.iter().find(|(k, _)| k == key);
                let have = recorded.iter().find(|(k, _)| k == key);
                if want.is_none() || want != have {
                    differences.push(format!("{key} (not known to be set)"));
                }
            } else if live.settings.as_ref().and_then(|s| s.get(key)) != Some(value) {
                differences.push(key.clone());
            }
        }
    }
    (!differences.is_empty()).then(|| format!("differs in {}", differences.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConnectorProvider;
    use serde_json::json;

    fn live(settings: Value, scope: Option<&[&str]>) -> Connector {
        Connector {
            name: "m".into(),
            provider: ConnectorProvider::Microsoft,
            settings: settings.as_object().cloned(),
            scope: scope.map(|s| s.iter().map(|x| x.to_string()).collect()),
            active_credential_id: None,
        }
    }

    fn desired(
        settings: Option<Value>,
        scope: Option<&[&str]>,
        fp: Option<&str>,
    ) -> DesiredConnector {
        DesiredConnector {
            settings: settings.and_then(|s| s.as_object().cloned()),
            scope: scope.map(|s| s.iter().map(|x| x.to_string()).collect()),
            fingerprints: fp
                .map(|f| vec![("client_secret".to_owned(), f.to_owned())])
                .unwrap_or_default(),
        }
    }

    #[test]
    fn a_connector_differs_where_the_plan_says_otherwise() {
        let recorded = |fp: &str| vec![("client_secret".to_owned(), fp.to_owned())];
        let with_secret = json!({"client_id": "id", "client_secret": "s", "tenant": "common"});
        let cases = vec![
            (
                "same settings, scope in another order",
                live(
                    json!({"client_id": "id", "tenant": "common"}),
                    Some(&["b", "a"]),
                ),
                desired(
                    Some(json!({"client_id": "id", "tenant": "common"})),
                    Some(&["a", "b"]),
                    None,
                ),
                vec![],
                None,
            ),
            (
                "the plan names no scope: the live one is left alone",
                live(json!({}), Some(&["x"])),
                desired(None, None, None),
                vec![],
                None,
            ),
            (
                "settings the plan leaves out are not compared",
                live(
                    json!({"client_id": "id", "tenant": "common", "topic_name": "t"}),
                    None,
                ),
                desired(Some(json!({"client_id": "id"})), None, None),
                vec![],
                None,
            ),
            (
                "an empty live scope, none asked: left alone",
                live(json!({}), Some(&[])),
                desired(None, None, None),
                vec![],
                None,
            ),
            (
                "another scope",
                live(json!({}), Some(&["a"])),
                desired(None, Some(&["a", "b"]), None),
                vec![],
                Some("differs in scope"),
            ),
            (
                "no live scope at all",
                live(json!({}), None),
                desired(None, Some(&["a"]), None),
                vec![],
                Some("differs in scope"),
            ),
            (
                "another tenant, a setting missing",
                live(json!({"tenant": "other"}), None),
                desired(
                    Some(json!({"client_id": "id", "tenant": "common"})),
                    None,
                    None,
                ),
                vec![],
                Some("differs in client_id, tenant"),
            ),
            (
                "the secret this journal wrote",
                live(json!({"client_id": "id", "tenant": "common"}), None),
                desired(Some(with_secret.clone()), None, Some("fp1")),
                recorded("fp1"),
                None,
            ),
            (
                "another secret than the one this journal wrote",
                live(json!({"client_id": "id", "tenant": "common"}), None),
                desired(Some(with_secret.clone()), None, Some("fp2")),
                recorded("fp1"),
                Some("differs in client_secret (not known to be set)"),
            ),
            (
                "a secret this journal never wrote",
                live(json!({"client_id": "id", "tenant": "common"}), None),
                desired(Some(with_secret.clone()), None, Some("fp1")),
                vec![],
                Some("differs in client_secret (not known to be set)"),
            ),
            (
                "no fingerprint key (no state folder): never known to be set",
                live(json!({"client_id": "id", "tenant": "common"}), None),
                desired(Some(with_secret), None, None),
                vec![],
                Some("differs in client_secret (not known to be set)"),
            ),
        ];
        for (case, live, desired, recorded, expected) in cases {
            assert_eq!(
                connector_difference(&live, &desired, &recorded).as_deref(),
                expected,
                "{case}"
            );
        }
    }
}
