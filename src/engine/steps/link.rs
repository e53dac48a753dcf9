//! `link`: the v2 application linked to the pair's v3 application, in the plan's region.

use std::convert::Infallible;

use crate::api::Region;

use super::checklist::{Check, VerifyCx, VerifyItem};
use super::{
    Action, Intent, Observed, Outcome, Refusal, Sent, StepCx, StepDriver, WriteCx, api_message,
    standing_refusal,
};
use crate::engine::EngineError;
use crate::engine::context::app_config;
use crate::state::journal::StepRecord;

/// Link. Repeating it for the same pair is harmless (Nylas answers with the same link), so an
/// unanswered request is simply observed again by the next run. Nylas refuses (400) a v2
/// application in another region, or one already linked to another v3 application: a
/// conflict to resolve by hand, recorded as a refusal and not sent again until the plan
/// names other applications, another link-lifting step is written, or `--rerun-link`.
pub(super) struct LinkKind;

/// What a link journals: the request's ID.
#[derive(Debug, Clone, Default)]
pub(super) struct LinkRecord {
    pub request_id: Option<String>,
}

impl StepDriver for LinkKind {
    type Spec = ();
    type Found = ();
    type Write = ();
    type Follow = Infallible;
    type Record = LinkRecord;

    const LIFTS_REFUSALS: bool = true;

    async fn observe(cx: &StepCx<'_>, _: &()) -> Result<Observed<()>, EngineError> {
        let pair = cx.pair();
        let app = match cx.app().get_application().await {
            Ok(response) => response.data,
            Err(err) if err.status() == Some(401) => {
                // A key from the other data centre is unknown here. Ask the other region with
                // the same key: if it answers, the plan names the wrong region, which is a
                // conflict to explain, not a bad key.
                return match other_region(cx).await {
                    Some(actual) => Ok(Observed::of(
                        Action::Conflict,
                        region_conflict(cx, actual.as_str()),
                    )),
                    None => Err(err.into()),
                };
            }
            Err(err) => return Err(err.into()),
        };
        if let Some(region) = app.region.as_deref()
            && region != pair.region.as_str()
        {
            return Ok(Observed::of(Action::Conflict, region_conflict(cx, region)));
        }
        Ok(match app.v2_application_id.as_deref() {
            Some(linked) if linked == pair.v2_app_id => Observed::of(
                Action::Unchanged,
                format!("v3 app already linked to v2 app {linked}"),
            ),
            Some(other) => Observed::of(
                Action::Conflict,
                format!(
                    "v3 application {} is already linked to another v2 app, {other}; a v3 app is linked to one v2 app only",
                    pair.v3_app_id
                ),
            ),
            None => not_linked(cx)?,
        })
    }

    async fn intend(
        _: &WriteCx<'_>,
        _: &(),
        _: (),
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        Ok(Intent::Write {
            record: LinkRecord::default(),
            write: (),
        })
    }

    /// `link` (linked to the plan's v2 application) and `region` (in the plan's region), the
    /// two things `observe` compares.
    async fn verify(cx: &VerifyCx<'_>, _: &()) -> Result<Vec<VerifyItem>, EngineError> {
        let pair = cx.pair;
        let application = cx.app().get_application().await?.data;
        let linked = application.v2_application_id.as_deref();
        let link = VerifyItem::new(
            Check::Link,
            "",
            linked == Some(pair.v2_app_id.as_str()),
            match linked {
                Some(v2) if v2 == pair.v2_app_id => format!(
                    "v3 application {} is linked to v2 application {v2}",
                    pair.v3_app_id
                ),
                Some(v2) => format!(
                    "v3 application {} is linked to v2 application {v2}, not the plan's {}",
                    pair.v3_app_id, pair.v2_app_id
                ),
                None => format!(
                    "v3 application {} is linked to no v2 application",
                    pair.v3_app_id
                ),
            },
        );
        let region = application.region.as_deref();
        let region = VerifyItem::new(
            Check::Region,
            "",
            region == Some(pair.region.as_str()),
            match region {
                Some(r) if r == pair.region.as_str() => format!("region {r}, as the plan says"),
                Some(r) => format!("region {r}, the plan says {}", pair.region),
                None => "the application does not say its region".to_owned(),
            },
        );
        Ok(vec![link, region])
    }

    async fn write(cx: &WriteCx<'_>, _: &(), _: ()) -> Result<Sent<Self>, EngineError> {
        let pair = cx.pair();
        let secrets = cx.ctx.secrets(cx.step.pair);
        match cx
            .app()
            .link_v2_app(&pair.v2_app_id, &secrets.v2_client_secret)
            .await
        {
            Ok(response) => Ok(Sent::Done {
                record: LinkRecord {
                    request_id: response.request_id,
                },
                outcome: Outcome::Changed(format!(
                    "linked v2 app {} to v3 app {}",
                    pair.v2_app_id, pair.v3_app_id
                )),
            }),
            Err(err) if err.status() == Some(400) => {
                let message = api_message(&err);
                Ok(Sent::Refused {
                    refusal: Refusal {
                        action: "link",
                        request_key: link_key(cx),
                        request_id: err.request_id().map(str::to_owned),
                        error: message.clone(),
                    },
                    outcome: Outcome::Failed(format!(
                        "conflict: Nylas refused to link v2 app {} to v3 app {}: {message}; {}",
                        pair.v2_app_id,
                        pair.v3_app_id,
                        link_refusal_help(cx)
                    )),
                })
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// The v3 application is not linked yet: link it, unless Nylas refused that link before and
/// the refusal stands.
fn not_linked(cx: &StepCx<'_>) -> Result<Observed<()>, EngineError> {
    let pair = cx.pair();
    Ok(match standing_refusal(cx, &link_key(cx))? {
        Some(refusal) => Observed::of(
            Action::Conflict,
            format!(
                "Nylas refused in run {} to link v2 app {} to v3 app {}: {}; {}",
                refusal.run_id,
                pair.v2_app_id,
                pair.v3_app_id,
                refusal.record.error.as_deref().unwrap_or("no reason given"),
                link_refusal_help(cx)
            ),
        ),
        None => Observed::of(
            Action::Create,
            format!(
                "link v2 app {} to v3 app {}",
                pair.v2_app_id, pair.v3_app_id
            ),
        ),
    })
}

/// The v3 application is in another region (`actual`) than the plan says.
fn region_conflict(cx: &StepCx<'_>, actual: &str) -> String {
    let pair = cx.pair();
    format!(
        "v3 application {} is in region `{actual}` but the plan says `{}`; a v2 app can only move to a v3 app in its own region",
        pair.v3_app_id, pair.region
    )
}

/// The key a link's refusal is recorded under: which applications, in which region.
fn link_key(cx: &StepCx<'_>) -> String {
    let pair = cx.pair();
    serde_json::json!({"v2": pair.v2_app_id, "v3": pair.v3_app_id, "region": pair.region.as_str()})
        .to_string()
}

/// What to do about a link Nylas refused with a 400.
fn link_refusal_help(cx: &StepCx<'_>) -> String {
    let pair = cx.pair();
    format!(
        "help: a v2 application links only to a v3 application in its own region (the plan says `{}`), and to one v3 application only: check the pair's `region` and `v2.app_id`, or unlink the v2 app from the other v3 app in the Nylas dashboard, then run `apply --rerun-link {}`",
        pair.region, pair.name
    )
}

/// The region whose API accepts this pair's key, when it is not the plan's.
async fn other_region(cx: &StepCx<'_>) -> Option<Region> {
    let pair = cx.pair();
    for region in Region::ALL.into_iter().filter(|r| *r != pair.region) {
        let mut config = app_config(pair, cx.ctx.secrets(cx.step.pair));
        config.region = region;
        let app = cx.ctx.client().app(config);
        if let Ok(response) = app.get_application().await {
            return Some(
                response
                    .data
                    .region
                    .as_deref()
                    .and_then(Region::parse)
                    .unwrap_or(region),
            );
        }
    }
    None
}

impl From<LinkRecord> for StepRecord {
    fn from(r: LinkRecord) -> StepRecord {
        StepRecord {
            action: Some("link".into()),
            request_id: r.request_id,
            ..StepRecord::default()
        }
    }
}
