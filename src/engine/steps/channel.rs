//! What the channel kinds share (`pubsub/<topic>` in `pubsub.rs`, `sns/<topic>` in
//! `sns.rs`): a notification channel matched by its topic, created if absent, updated
//! (PUT) if it differs from the plan, never deleted. Each kind says how its channels are
//! listed, created, updated and compared ([`Channel`]); the driver is [`ChannelKind`].

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::api::{ChannelStatus, RequestedStatus, TriggerType};
use crate::client::{AppClient, ClientError, Response};
use crate::graph::Kind;

use tokio::sync::OnceCell;

use super::checklist::{Check, Match, VerifyCx, VerifyItem, VerifyReads, settled};
use super::unmanaged::Unmanaged;
use super::{Action, Intent, Observed, Outcome, Sent, StepCx, StepDriver, WriteCx};
use crate::engine::EngineError;
use crate::state::journal::StepRecord;

/// One kind of notification channel, as the API has it.
pub(super) trait Channel: Sized + Send + Sync + 'static {
    /// The plan's entry (the kind's `StepKind` payload).
    type Spec: Send + Sync + 'static;
    /// A live channel.
    type Live: Send + Sync + 'static;
    /// The kind, for what is found live but not in the plan.
    const KIND: Kind;
    /// Its item in `verify`'s checklist.
    const CHECK: Check;
    /// What a person calls it: `Pub/Sub channel`, `SNS channel`.
    const NAME: &'static str;

    fn topic(spec: &Self::Spec) -> &str;
    fn live_topic(live: &Self::Live) -> &str;
    fn live_id(live: &Self::Live) -> &str;
    fn live_status(live: &Self::Live) -> Option<ChannelStatus>;
    /// Where `verify` keeps the pair's listing of this kind.
    fn listing<'r>(reads: &'r VerifyReads<'_>) -> &'r OnceCell<Vec<Self::Live>>;
    /// What differs between a live channel and the plan's, by name.
    fn difference(live: &Self::Live, spec: &Self::Spec) -> Vec<&'static str>;
    /// The status the plan wants the channel in.
    fn wanted_status(spec: &Self::Spec) -> RequestedStatus;
    /// For a person reading `plan`: the live channel's triggers and status.
    fn describe(live: &Self::Live) -> String;

    fn list(app: &AppClient) -> impl Future<Output = Result<Vec<Self::Live>, ClientError>> + Send;
    fn create(
        app: &AppClient,
        spec: &Self::Spec,
    ) -> impl Future<Output = Result<Response<Self::Live>, ClientError>> + Send;
    fn update(
        app: &AppClient,
        id: &str,
        spec: &Self::Spec,
    ) -> impl Future<Output = Result<Response<Self::Live>, ClientError>> + Send;
}

/// A channel: an update (PUT) is repeatable; a create is not (a repeat makes a second channel,
/// which doubles every notification, and Pub/Sub allows only five), so after an unanswered
/// create the channels are listed again (for a while: lists can lag) and the create is never
/// sent again in the same run; a resumed run finds a channel whose create's outcome was lost
/// by its topic, as it observes first. After a create the channels are listed once more:
/// another runner may have created the same one at the same time. Nothing is ever deleted.
pub(super) struct ChannelKind<C>(PhantomData<C>);

/// What a channel step journals: create or update, and the channel's ID.
#[derive(Debug, Clone, Default)]
pub(super) struct ChannelRecord {
    pub created: bool,
    pub request_id: Option<String>,
    pub channel: Option<String>,
}

impl From<ChannelRecord> for StepRecord {
    fn from(r: ChannelRecord) -> StepRecord {
        StepRecord {
            action: Some(if r.created { "create" } else { "update" }.into()),
            request_id: r.request_id,
            object_id: r.channel,
            ..StepRecord::default()
        }
    }
}

/// Whether a live channel is the step's: its topic. The one match every use of the kind shares
/// (observe, the look after a create, the search after an unanswered one, verify, and what
/// `plan` lists as not managed).
fn is_match<C: Channel>(spec: &C::Spec, live: &C::Live) -> bool {
    C::live_topic(live) == C::topic(spec)
}

/// The live channels with the step's topic.
fn find_live<'a, C: Channel>(spec: &C::Spec, listed: &'a [C::Live]) -> Match<'a, C::Live> {
    Match::of(listed.iter().filter(|c| is_match::<C>(spec, c)).collect())
}

impl<C: Channel> StepDriver for ChannelKind<C> {
    type Spec = C::Spec;
    /// The live channel with the plan's topic.
    type Found = Option<Box<C::Live>>;
    type Write = Option<Box<C::Live>>;
    type Follow = Infallible;
    type Record = ChannelRecord;

    async fn observe(
        cx: &StepCx<'_>,
        spec: &C::Spec,
    ) -> Result<Observed<Option<Box<C::Live>>>, EngineError> {
        let listed = C::list(cx.app()).await?;
        let live = match find_live::<C>(spec, &listed) {
            Match::Several(same) => {
                return Ok(Observed::of(
                    Action::Conflict,
                    duplicates::<C>(C::topic(spec), &same, None),
                ));
            }
            Match::Absent => {
                return Ok(Observed::of(
                    Action::Create,
                    format!("no {} with this topic yet", C::NAME),
                ));
            }
            Match::One(live) => live,
        };
        let differences = C::difference(live, spec);
        let id = C::live_id(live);
        let (action, reason) = if differences.is_empty() {
            (
                Action::Unchanged,
                format!("{} {id} has the plan's settings", C::NAME),
            )
        } else {
            (
                Action::Update,
                format!("{} {id} differs in {}", C::NAME, differences.join(", ")),
            )
        };
        let found = listed
            .into_iter()
            .find(|c| is_match::<C>(spec, c))
            .map(Box::new);
        Ok(Observed::new(action, reason, found))
    }

    async fn intend(
        _: &WriteCx<'_>,
        _: &C::Spec,
        live: Option<Box<C::Live>>,
        _: Action,
    ) -> Result<Intent<Self>, EngineError> {
        Ok(Intent::Write {
            record: ChannelRecord {
                created: live.is_none(),
                ..ChannelRecord::default()
            },
            write: live,
        })
    }

    async fn write(
        cx: &WriteCx<'_>,
        spec: &C::Spec,
        live: Option<Box<C::Live>>,
    ) -> Result<Sent<Self>, EngineError> {
        if let Some(live) = live {
            let id = C::live_id(&live).to_owned();
            let response = C::update(cx.app(), &id, spec).await?;
            return Ok(Sent::Done {
                outcome: Outcome::Changed(format!("updated {} {id}", C::NAME)),
                record: ChannelRecord {
                    created: false,
                    request_id: response.request_id,
                    channel: Some(id),
                },
            });
        }
        let (id, request_id) = match C::create(cx.app(), spec).await {
            Ok(response) => (C::live_id(&response.data).to_owned(), response.request_id),
            Err(err) if err.is_ambiguous() => {
                let listed = find_created::<C>(cx, spec).await?;
                match find_live::<C>(spec, &listed) {
                    // This run's create and another runner's both happened; which one is this
                    // run's cannot be told. Nothing more is written.
                    Match::Several(found) => {
                        return Ok(Sent::Unresolved(Outcome::Failed(format!(
                            "conflict: {}",
                            duplicates::<C>(C::topic(spec), &found, None)
                        ))));
                    }
                    Match::One(live) => (C::live_id(live).to_owned(), None),
                    Match::Absent => {
                        return Err(EngineError::OutcomeUnknown {
                            step: cx.step.id.to_string(),
                            what: format!("{} create", C::NAME),
                        });
                    }
                }
            }
            Err(err) => return Err(err.into()),
        };
        // A create takes no status (every new channel is active): a plan that wants it paused
        // pauses it at once, so that one apply is enough.
        if C::wanted_status(spec) == RequestedStatus::Pause {
            C::update(cx.app(), &id, spec).await?;
        }
        Ok(Sent::Done {
            outcome: Outcome::Changed(format!("created {} {id}", C::NAME)),
            record: ChannelRecord {
                created: true,
                request_id,
                channel: Some(id),
            },
        })
    }

    /// Another runner may have created a channel with the same topic at the same time: look
    /// again, and say so rather than leave every notification doubled without a word.
    async fn confirm(
        cx: &WriteCx<'_>,
        spec: &C::Spec,
        record: &ChannelRecord,
        outcome: Outcome,
    ) -> Result<Outcome, EngineError> {
        if !record.created {
            return Ok(outcome);
        }
        let listed = C::list(cx.app()).await?;
        if let Match::Several(same) = find_live::<C>(spec, &listed) {
            return Ok(Outcome::Failed(format!(
                "conflict: {}",
                duplicates::<C>(C::topic(spec), &same, record.channel.as_deref())
            )));
        }
        Ok(outcome)
    }

    async fn verify(cx: &VerifyCx<'_>, spec: &C::Spec) -> Result<Vec<VerifyItem>, EngineError> {
        let listed = VerifyReads::listed(C::listing(cx.reads), || async {
            Ok(C::list(cx.app()).await?)
        })
        .await?;
        let (passed, evidence) = match find_live::<C>(spec, listed) {
            Match::Absent => (
                false,
                format!(
                    "absent: no {} with this topic among {}",
                    C::NAME,
                    listed.len()
                ),
            ),
            Match::Several(same) => (false, duplicates::<C>(C::topic(spec), &same, None)),
            Match::One(c) => settled(
                C::NAME,
                C::live_id(c),
                &C::difference(c, spec),
                C::live_status(c).map(ChannelStatus::as_listed),
                C::wanted_status(spec),
            ),
        };
        Ok(vec![VerifyItem::new(
            C::CHECK,
            C::topic(spec),
            passed,
            evidence,
        )])
    }
}

/// After an unanswered create, which may have happened: the channels, listed until one has the
/// plan's topic, five times over about 15 seconds (lists can lag). The create is never sent
/// again in this run.
async fn find_created<C: Channel>(
    cx: &WriteCx<'_>,
    spec: &C::Spec,
) -> Result<Vec<C::Live>, EngineError> {
    let mut wait = Duration::from_millis(500);
    let mut listed = Vec::new();
    for _ in 0..5 {
        listed = C::list(cx.app()).await?;
        if !matches!(find_live::<C>(spec, &listed), Match::Absent) {
            break;
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    Ok(listed)
}

/// Why several channels with one topic are a problem, and what to do.
fn duplicates<C: Channel>(topic: &str, channels: &[&C::Live], ours: Option<&str>) -> String {
    let ids: Vec<String> = channels
        .iter()
        .map(|c| {
            let id = C::live_id(c);
            if Some(id) == ours {
                format!("{id} (made by this run)")
            } else {
                id.to_owned()
            }
        })
        .collect();
    format!(
        "{} {}s have the topic {topic}: {}; every notification is published {} times. Another run created one at the same time (two runners on one plan), or one was made by hand: delete the extra ones in the Nylas dashboard (nylas-migrate never deletes), and run one apply at a time",
        channels.len(),
        C::NAME,
        ids.join(", "),
        channels.len()
    )
}

/// The live channels of this kind whose topic no step of the plan names.
pub(super) async fn unmanaged<C: Channel>(
    app: &AppClient,
    planned: &[&C::Spec],
) -> Result<Vec<Unmanaged>, EngineError> {
    Ok(C::list(app)
        .await?
        .iter()
        .filter(|c| !planned.iter().any(|s| is_match::<C>(s, c)))
        .map(|c| Unmanaged {
            kind: C::KIND,
            id: C::live_id(c).to_owned(),
            subject: C::live_topic(c).to_owned(),
            detail: C::describe(c),
        })
        .collect())
}

/// The settings channels (and webhook destinations) have in common, as the API or the plan
/// gives them; for the plan, `None` is a setting it leaves as it is.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Settings<'a> {
    pub triggers: &'a [TriggerType],
    pub description: Option<&'a str>,
    pub emails: Option<&'a [String]>,
    pub compressed_delivery: Option<bool>,
    /// Live: the status Nylas reports (`None`: it reports none, or one this build does not
    /// know). The plan's: the status it wants, always given (`active` unless it says `pause`).
    pub status: Option<ChannelStatus>,
}

/// What differs between a live destination's settings and the plan's (`want`), by name: the
/// triggers always (as sets), the status (a destination paused by hand, failing or failed
/// differs from the `active` a plan wants unless it says `pause`; one whose status Nylas does not
/// report is not known to match), every other setting only where the plan gives it.
pub(super) fn differences(live: Settings<'_>, want: Settings<'_>) -> Vec<&'static str> {
    let mut out = Vec::new();
    let set = |t: &[TriggerType]| t.iter().copied().collect::<BTreeSet<_>>();
    if set(live.triggers) != set(want.triggers) {
        out.push("triggers");
    }
    if want.description.is_some() && want.description != live.description {
        out.push("description");
    }
    if let Some(emails) = want.emails {
        let want: BTreeSet<&String> = emails.iter().collect();
        let have: BTreeSet<&String> = live.emails.into_iter().flatten().collect();
        if want != have {
            out.push("notification emails");
        }
    }
    if let Some(compressed) = want.compressed_delivery
        && compressed != live.compressed_delivery.unwrap_or(false)
    {
        out.push("compressed delivery");
    }
    if want.status.is_some() && live.status != want.status {
        out.push("status");
    }
    out
}

/// A channel's status and triggers, for a person to read.
pub(super) fn describe(triggers: &[TriggerType], status: Option<ChannelStatus>) -> String {
    format!(
        "{}, triggers {}",
        status.map_or("status unknown", ChannelStatus::as_listed),
        trigger_list(triggers)
    )
}

/// Trigger names, comma-separated, for a person to read.
pub(super) fn trigger_list(triggers: &[TriggerType]) -> String {
    triggers
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_differ_in_triggers_and_in_what_the_plan_gives() {
        use TriggerType::{GrantCreated as C, GrantExpired as E};
        let emails = ["ops@acme.example".to_owned()];
        let other = ["dev@acme.example".to_owned()];
        let two = ["a@acme.example".to_owned(), "b@acme.example".to_owned()];
        let two_reversed = ["b@acme.example".to_owned(), "a@acme.example".to_owned()];
        let base = Settings {
            triggers: &[C, E],
            description: Some("live"),
            emails: Some(&emails),
            compressed_delivery: None,
            status: Some(ChannelStatus::Active),
        };
        for (case, live, want, expected) in [
            (
                "the same triggers in another order, nothing else given",
                base,
                Settings {
                    triggers: &[E, C],
                    ..Settings::default()
                },
                vec![],
            ),
            (
                "a trigger fewer",
                base,
                Settings {
                    triggers: &[C],
                    ..Settings::default()
                },
                vec!["triggers"],
            ),
            (
                "another description and other emails",
                base,
                Settings {
                    triggers: &[C, E],
                    description: Some("plan"),
                    emails: Some(&other),
                    compressed_delivery: None,
                    status: None,
                },
                vec!["description", "notification emails"],
            ),
            (
                "description and emails left out: the live ones stay, whatever they are",
                base,
                Settings {
                    triggers: &[C, E],
                    ..Settings::default()
                },
                vec![],
            ),
            (
                "a description asked, the live one has none (Nylas lists it as \"\")",
                Settings {
                    description: Some(""),
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    description: Some("plan"),
                    ..Settings::default()
                },
                vec!["description"],
            ),
            (
                "a description asked, the live one absent",
                Settings {
                    description: None,
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    description: Some("plan"),
                    ..Settings::default()
                },
                vec!["description"],
            ),
            (
                "emails asked in another order: the same",
                Settings {
                    emails: Some(&two),
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    emails: Some(&two_reversed),
                    ..Settings::default()
                },
                vec![],
            ),
            (
                "no emails asked for, the live one has none",
                Settings {
                    emails: None,
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    emails: Some(&[]),
                    ..Settings::default()
                },
                vec![],
            ),
        ] {
            assert_eq!(differences(live, want), expected, "{case}");
        }
    }

    #[test]
    fn compressed_delivery_differs_only_when_asked_and_not_live() {
        use TriggerType::{GrantCreated as C, GrantExpired as E};
        let emails = ["ops@acme.example".to_owned()];
        let base = Settings {
            triggers: &[C, E],
            description: Some("live"),
            emails: Some(&emails),
            compressed_delivery: None,
            status: Some(ChannelStatus::Active),
        };
        for (case, live, want, expected) in [
            (
                "compressed delivery asked, the live one has none (false)",
                base,
                Settings {
                    triggers: &[C, E],
                    compressed_delivery: Some(true),
                    ..Settings::default()
                },
                vec!["compressed delivery"],
            ),
            (
                "uncompressed asked, the live one says nothing: the same",
                base,
                Settings {
                    triggers: &[C, E],
                    compressed_delivery: Some(false),
                    ..Settings::default()
                },
                vec![],
            ),
        ] {
            assert_eq!(differences(live, want), expected, "{case}");
        }
    }

    #[test]
    fn the_status_differs_unless_it_is_the_one_the_plan_wants() {
        use TriggerType::{GrantCreated as C, GrantExpired as E};
        let emails = ["ops@acme.example".to_owned()];
        let base = Settings {
            triggers: &[C, E],
            description: Some("live"),
            emails: Some(&emails),
            compressed_delivery: None,
            status: Some(ChannelStatus::Active),
        };
        for (case, live, want, expected) in [
            (
                "active wanted, the live one active",
                base,
                Settings {
                    triggers: &[C, E],
                    status: Some(ChannelStatus::Active),
                    ..Settings::default()
                },
                vec![],
            ),
            (
                "active wanted, the live one paused by hand",
                Settings {
                    status: Some(ChannelStatus::Paused),
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    status: Some(ChannelStatus::Active),
                    ..Settings::default()
                },
                vec!["status"],
            ),
            (
                "active wanted, the live one failing",
                Settings {
                    status: Some(ChannelStatus::Failing),
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    status: Some(ChannelStatus::Active),
                    ..Settings::default()
                },
                vec!["status"],
            ),
            (
                "active wanted, the live one failed, with other triggers too",
                Settings {
                    status: Some(ChannelStatus::Failed),
                    ..base
                },
                Settings {
                    triggers: &[C],
                    status: Some(ChannelStatus::Active),
                    ..Settings::default()
                },
                vec!["triggers", "status"],
            ),
            (
                "active wanted, no status reported: not known to match",
                Settings {
                    status: None,
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    status: Some(ChannelStatus::Active),
                    ..Settings::default()
                },
                vec!["status"],
            ),
            (
                "pause wanted, the live one paused",
                Settings {
                    status: Some(ChannelStatus::Paused),
                    ..base
                },
                Settings {
                    triggers: &[C, E],
                    status: Some(ChannelStatus::Paused),
                    ..Settings::default()
                },
                vec![],
            ),
            (
                "pause wanted, the live one active",
                base,
                Settings {
                    triggers: &[C, E],
                    status: Some(ChannelStatus::Paused),
                    ..Settings::default()
                },
                vec!["status"],
            ),
        ] {
            assert_eq!(differences(live, want), expected, "{case}");
        }
    }
}
