//! What `plan` shows beside the steps: the notification destinations (webhooks, Pub/Sub and SNS
//! channels) and redirect URIs found live on a pair's v3 application that no step of the plan
//! names. Nothing is ever deleted; listing them makes drift visible (a destination subscribed
//! by hand, a redirect URI import copied from v2).

use serde::Serialize;

use crate::graph::{Kind, StepKind};

use super::super::context::Context;
use super::channel;
use super::pubsub::Pubsub;
use super::sns::Sns;
use super::{redirect_uri, webhook};

/// One live object that the plan does not manage: left as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    /// The kind of step that would manage it (`webhook`, `pubsub`, `sns`, `redirect-uri`).
    pub kind: Kind,
    /// Its ID at Nylas.
    pub id: String,
    /// What identifies it, as a plan would name it: the URL or the topic.
    pub subject: String,
    /// Its settings, for a person to read (triggers and status, or platform).
    pub detail: String,
}

/// What one pair's application has live that no step of the plan names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairUnmanaged {
    pub pair: String,
    pub found: Vec<Unmanaged>,
    /// The kinds that could not be listed, each with why: what `plan` shows is not the whole
    /// drift then, but the steps' own observations still are.
    pub unlisted: Vec<String>,
}

/// The live objects of pair `pair`'s v3 application that no step of the plan names, kind by
/// kind (webhooks, Pub/Sub channels, SNS channels, redirect URIs): four reads. A kind that
/// cannot be listed is named in [`PairUnmanaged::unlisted`] rather than failing the preview.
pub(in crate::engine) async fn unmanaged(ctx: &Context, pair: usize) -> PairUnmanaged {
    let app = ctx.pair_app(pair);
    let kinds: Vec<&StepKind> = ctx
        .graph()
        .steps()
        .filter(|s| s.pair == pair)
        .map(|s| &s.kind)
        .collect();
    let webhooks: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            StepKind::Webhook(w) => Some(w),
            _ => None,
        })
        .collect();
    let pubsub: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            StepKind::Pubsub(p) => Some(p),
            _ => None,
        })
        .collect();
    let sns: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            StepKind::Sns(s) => Some(s),
            _ => None,
        })
        .collect();
    let redirect_uris: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            StepKind::RedirectUri(r) => Some(r),
            _ => None,
        })
        .collect();
    let mut out = PairUnmanaged {
        pair: ctx.graph().pairs()[pair].name.clone(),
        found: Vec::new(),
        unlisted: Vec::new(),
    };
    for (what, listed) in [
        (
            "webhook destinations",
            webhook::unmanaged(app, &webhooks).await,
        ),
        (
            "Pub/Sub channels",
            channel::unmanaged::<Pubsub>(app, &pubsub).await,
        ),
        ("SNS channels", channel::unmanaged::<Sns>(app, &sns).await),
        (
            "redirect URIs",
            redirect_uri::unmanaged(app, &redirect_uris).await,
        ),
    ] {
        match listed {
            Ok(found) => out.found.extend(found),
            Err(err) => out
                .unlisted
                .push(format!("{what}: {}", err.outcome_message())),
        }
    }
    out
}
