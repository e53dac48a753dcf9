//! `redirect-uri/<url>`: one redirect (callback) URI of the v3 application, matched by its URL
//! (as Nylas stores it), after import, which copies the v2 application's as `web` URIs.

use std::convert::Infallible;
use std::time::Duration;

use crate::api::forms::normalized_url;
use crate::api::{PlatformSettings, RedirectUri};
use crate::client::AppClient;
use crate::graph::Kind;
use crate::plan::RedirectUriSpec;

use super::checklist::{Check, Match, VerifyCx, VerifyItem, VerifyReads};
use super::unmanaged::Unmanaged;
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx};
use crate::engine::EngineError;
use crate::state::journal::StepRecord;

/// Redirect URI: an update (PATCH of the URL, platform and settings) is repeatable; an add is
/// not (a repeat adds a second one), so after an unanswered add the redirect URIs are listed
/// again (for a while: lists can lag) and the add is never sent again in the same run; a
/// resumed run finds one whose add's outcome was lost by its URL, as it observes first. After
/// an add they are listed once more, for another runner's add of the same URI. Nothing is ever
/// deleted: one with the plan's URL but another platform is changed to the plan's platform.
pub(super) struct RedirectUriKind;

/// What a redirect URI step journals: add or update, and the redirect URI's ID.
#[derive(Debug, Clone, Default)]
pub(super) struct RedirectUriRecord {
    pub created: bool,
    pub request_id: Option<String>,
    pub uri: Option<String>,
}

impl From<RedirectUriRecord> for StepRecord {
    fn from(r: RedirectUriRecord) -> StepRecord {
        StepRecord {
            action: Some(if r.created { "create" } else { "update" }.into()),
            request_id: r.request_id,
            object_id: r.uri,
            ..StepRecord::default()
        }
    }
}

/// Whether a live redirect URI has the step's URL (as Nylas stores it): the one match every
/// use of the kind shares, with [`find_live`].
fn is_match(spec: &RedirectUriSpec, live: &RedirectUri) -> bool {
    normalized_url(&live.url) == normalized_url(&spec.url)
}

/// Those of `listed` with the plan's URL and on the plan's platform.
fn on_platform<'a>(spec: &RedirectUriSpec, listed: &'a [RedirectUri]) -> Vec<&'a RedirectUri> {
    listed
        .iter()
        .filter(|r| is_match(spec, r) && r.platform.platform() == spec.platform)
        .collect()
}

/// The step's live redirect URI: those with its URL on its platform; if none, those with its
/// URL (the one there is gets the plan's platform). Used by observe and verify alike.
fn find_live<'a>(spec: &RedirectUriSpec, listed: &'a [RedirectUri]) -> Match<'a, RedirectUri> {
    let ours = on_platform(spec, listed);
    if !ours.is_empty() {
        return Match::of(ours);
    }
    Match::of(listed.iter().filter(|r| is_match(spec, r)).collect())
}

/// Why several matches are a problem: copies on the plan's platform, or several platforms
/// none of which is the plan's.
fn several(spec: &RedirectUriSpec, found: &[&RedirectUri]) -> String {
    if found.iter().all(|r| r.platform.platform() == spec.platform) {
        return duplicates(spec, found, None);
    }
    let platforms: Vec<String> = found
        .iter()
        .map(|r| r.platform.platform().to_string())
        .collect();
    format!(
        "{} redirect URIs have the URL {} (platforms {}), none for {}: which one the plan means cannot be told; delete the extra ones in the Nylas dashboard (nylas-migrate never deletes)",
        found.len(),
        spec.url,
        platforms.join(", "),
        spec.platform
    )
}

impl StepDriver for RedirectUriKind {
    type Spec = RedirectUriSpec;
    /// The live redirect URI to bring to the plan's settings.
    type Found = Option<Box<RedirectUri>>;
    type Write = Option<Box<RedirectUri>>;
    type Follow = Infallible;
    type Record = RedirectUriRecord;

    async fn observe(
        cx: &StepCx<'_>,
        spec: &RedirectUriSpec,
    ) -> Result<Observed<Option<Box<RedirectUri>>>, EngineError> {
        let listed = cx.app().list_redirect_uris().await?.data;
        let live = match find_live(spec, &listed) {
            Match::One(live) => live.clone(),
            Match::Absent => {
                return Ok(Observed::of(
                    Action::Create,
                    format!("no redirect URI with this URL yet ({})", spec.platform),
                ));
            }
            Match::Several(found) => {
                return Ok(Observed::of(Action::Conflict, several(spec, &found)));
            }
        };
        let differences = redirect_uri_difference(&live, spec);
        let (action, reason) = if differences.is_empty() {
            (
                Action::Unchanged,
                format!("redirect URI {} is there for {}", live.id, spec.platform),
            )
        } else {
            (
                Action::Update,
                format!(
                    "redirect URI {} differs in {}",
                    live.id,
                    differences.join(", ")
                ),
            )
        };
        Ok(Observed::new(action, reason, Some(Box::new(live))))
    }

    async fn intend(
        _: &WriteCx<'_>,
        _: &RedirectUriSpec,
        live: Option<Box<RedirectUri>>,
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        Ok(Intent::Write {
            record: RedirectUriRecord {
                created: live.is_none(),
                ..RedirectUriRecord::default()
            },
            write: live,
        })
    }

    async fn write(
        cx: &WriteCx<'_>,
        spec: &RedirectUriSpec,
        live: Option<Box<RedirectUri>>,
    ) -> Result<Sent<Self>, EngineError> {
        if let Some(live) = live {
            let response = cx
                .app()
                .update_redirect_uri(&live.id, &spec.update_request())
                .await?;
            return Ok(Sent::Done {
                outcome: Outcome::Changed(format!(
                    "updated redirect URI {} ({})",
                    live.id, spec.platform
                )),
                record: RedirectUriRecord {
                    created: false,
                    request_id: response.request_id,
                    uri: Some(live.id.clone()),
                },
            });
        }
        let (id, request_id) = match cx.app().add_redirect_uri(&spec.add_request()).await {
            Ok(response) => (response.data.id, response.request_id),
            Err(err) if err.is_ambiguous() => {
                let listed = find_added(cx, spec).await?;
                let mut found = on_platform(spec, &listed);
                if found.len() > 1 {
                    return Ok(Sent::Unresolved(Outcome::Failed(format!(
                        "conflict: {}",
                        duplicates(spec, &found, None)
                    ))));
                }
                match found.pop() {
                    Some(r) => (r.id.clone(), None),
                    None => {
                        return Err(EngineError::OutcomeUnknown {
                            step: cx.step.id.to_string(),
                            what: "redirect URI add".into(),
                        });
                    }
                }
            }
            Err(err) => return Err(err.into()),
        };
        Ok(Sent::Done {
            outcome: Outcome::Changed(format!("added redirect URI {id} ({})", spec.platform)),
            record: RedirectUriRecord {
                created: true,
                request_id,
                uri: Some(id),
            },
        })
    }

    /// Another runner may have added the same redirect URI at the same time: look again.
    async fn confirm(
        cx: &WriteCx<'_>,
        spec: &RedirectUriSpec,
        record: &RedirectUriRecord,
        outcome: Outcome,
    ) -> Result<Outcome, EngineError> {
        if !record.created {
            return Ok(outcome);
        }
        let listed = cx.app().list_redirect_uris().await?.data;
        let ours = on_platform(spec, &listed);
        if ours.len() > 1 {
            return Ok(Outcome::Failed(format!(
                "conflict: {}",
                duplicates(spec, &ours, record.uri.as_deref())
            )));
        }
        Ok(outcome)
    }

    async fn verify(
        cx: &VerifyCx<'_>,
        spec: &RedirectUriSpec,
    ) -> Result<Vec<VerifyItem>, EngineError> {
        let listed = VerifyReads::listed(&cx.reads.redirect_uris, || async {
            Ok(cx.app().list_redirect_uris().await?.data)
        })
        .await?;
        let (passed, evidence) = match find_live(spec, listed) {
            Match::Absent => (
                false,
                format!(
                    "absent: no redirect URI with this URL among {}",
                    listed.len()
                ),
            ),
            Match::Several(found) => (false, several(spec, &found)),
            Match::One(l) => {
                let differences = redirect_uri_difference(l, spec);
                if differences.is_empty() {
                    (true, format!("redirect URI {} for {}", l.id, spec.platform))
                } else {
                    (
                        false,
                        format!(
                            "redirect URI {} differs from the plan in {} (it is for {})",
                            l.id,
                            differences.join(", "),
                            l.platform.platform()
                        ),
                    )
                }
            }
        };
        Ok(vec![VerifyItem::new(
            Check::RedirectUri,
            spec.url.clone(),
            passed,
            evidence,
        )])
    }
}

/// After an unanswered add, which may have happened: the redirect URIs, listed until one has
/// the plan's URL and platform, five times over about 15 seconds (lists can lag). The add is
/// never sent again in this run.
async fn find_added(
    cx: &WriteCx<'_>,
    spec: &RedirectUriSpec,
) -> Result<Vec<RedirectUri>, EngineError> {
    let mut wait = Duration::from_millis(500);
    let mut listed = Vec::new();
    for _ in 0..5 {
        listed = cx.app().list_redirect_uris().await?.data;
        if !on_platform(spec, &listed).is_empty() {
            break;
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    Ok(listed)
}

/// What differs between a live redirect URI with the plan's URL and the plan's, by name
/// (empty: as planned): its platform, or that platform's settings.
fn redirect_uri_difference(live: &RedirectUri, spec: &RedirectUriSpec) -> Vec<&'static str> {
    if live.platform.platform() != spec.platform {
        vec!["platform"]
    } else if live.platform != spec.platform_settings() {
        vec!["settings"]
    } else {
        Vec::new()
    }
}

/// Why several redirect URIs with one URL and platform are a problem, and what to do.
fn duplicates(spec: &RedirectUriSpec, uris: &[&RedirectUri], ours: Option<&str>) -> String {
    let ids: Vec<String> = uris
        .iter()
        .map(|r| {
            if Some(r.id.as_str()) == ours {
                format!("{} (made by this run)", r.id)
            } else {
                r.id.clone()
            }
        })
        .collect();
    format!(
        "{} {} redirect URIs have the URL {}: {}. Another run added one at the same time (two runners on one plan), or one was added by hand: delete the extra ones in the Nylas dashboard (nylas-migrate never deletes), and run one apply at a time",
        uris.len(),
        spec.platform,
        spec.url,
        ids.join(", ")
    )
}

/// A redirect URI's platform and settings, for a person to read.
fn describe(platform: &PlatformSettings) -> String {
    match platform {
        PlatformSettings::Js { settings: Some(js) } => format!("js, origin {}", js.origin),
        PlatformSettings::Ios {
            settings: Some(ios),
        } => format!("ios, bundle {}", ios.bundle_id),
        PlatformSettings::Android {
            settings: Some(android),
        } => format!("android, package {}", android.package_name),
        other => other.platform().to_string(),
    }
}

/// The live redirect URIs whose URL no step of the plan names.
pub(super) async fn unmanaged(
    app: &AppClient,
    planned: &[&RedirectUriSpec],
) -> Result<Vec<Unmanaged>, EngineError> {
    Ok(app
        .list_redirect_uris()
        .await?
        .data
        .into_iter()
        .filter(|r| !planned.iter().any(|spec| is_match(spec, r)))
        .map(|r| Unmanaged {
            kind: Kind::RedirectUri,
            detail: describe(&r.platform),
            id: r.id,
            subject: r.url,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{JsSettings, RedirectPlatform};
    use crate::plan::RedirectUriSettings;

    fn live(platform: PlatformSettings) -> RedirectUri {
        RedirectUri {
            id: "5967ca40-a2d8-4ee0-a0e0-6f18ace39a90".into(),
            url: "https://app.acme.example/callback".into(),
            platform,
        }
    }

    fn planned(platform: RedirectPlatform, origin: Option<&str>) -> RedirectUriSpec {
        RedirectUriSpec {
            url: "https://app.acme.example/callback".into(),
            platform,
            settings: origin.map(|o| RedirectUriSettings {
                origin: Some(o.into()),
                ..RedirectUriSettings::default()
            }),
        }
    }

    fn ios(app_store_id: Option<&str>) -> PlatformSettings {
        PlatformSettings::Ios {
            settings: Some(crate::api::IosSettings {
                bundle_id: "com.acme.app".into(),
                app_store_id: app_store_id.map(str::to_owned),
                team_id: None,
            }),
        }
    }

    fn planned_ios(app_store_id: Option<&str>) -> RedirectUriSpec {
        RedirectUriSpec {
            url: "https://app.acme.example/callback".into(),
            platform: RedirectPlatform::Ios,
            settings: Some(RedirectUriSettings {
                bundle_id: Some("com.acme.app".into()),
                app_store_id: app_store_id.map(str::to_owned),
                ..RedirectUriSettings::default()
            }),
        }
    }

    #[test]
    fn a_redirect_uri_differs_in_its_platform_or_its_settings() {
        let js = |origin: &str| PlatformSettings::Js {
            settings: Some(JsSettings {
                origin: origin.into(),
            }),
        };
        for (case, live_platform, spec, expected) in [
            (
                "web as planned",
                PlatformSettings::Web,
                planned(RedirectPlatform::Web, None),
                vec![],
            ),
            (
                "web from import, the plan says desktop",
                PlatformSettings::Web,
                planned(RedirectPlatform::Desktop, None),
                vec!["platform"],
            ),
            (
                "js with the plan's origin",
                js("app.acme.example"),
                planned(RedirectPlatform::Js, Some("app.acme.example")),
                vec![],
            ),
            (
                "js with another origin",
                js("old.acme.example"),
                planned(RedirectPlatform::Js, Some("app.acme.example")),
                vec!["settings"],
            ),
            (
                "ios without the optional settings, none live (Nylas's \"\" reads as none)",
                ios(None),
                planned_ios(None),
                vec![],
            ),
            (
                "ios: an App Store ID live, none in the plan (the PATCH replaces settings whole)",
                ios(Some("123")),
                planned_ios(None),
                vec!["settings"],
            ),
            (
                "ios: the plan's App Store ID",
                ios(Some("123")),
                planned_ios(Some("123")),
                vec![],
            ),
        ] {
            assert_eq!(
                redirect_uri_difference(&live(live_platform), &spec),
                expected,
                "{case}"
            );
        }
    }
}
