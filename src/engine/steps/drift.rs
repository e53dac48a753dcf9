//! Drift: what `plan` lists beside the steps, gathered kind by kind (see `unmanaged` for what
//! an entry is). Each kind says which live objects are its steps' with the match its `observe`
//! uses.

use crate::engine::context::Context;
use crate::graph::StepKind;

use super::channel;
use super::pubsub::Pubsub;
use super::sns::Sns;
use super::unmanaged::PairUnmanaged;
use super::{redirect_uri, webhook};

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
            StepKind::Webhook(w) => Some(&**w),
            _ => None,
        })
        .collect();
    let pubsub: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            StepKind::Pubsub(p) => Some(&**p),
            _ => None,
        })
        .collect();
    let sns: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            StepKind::Sns(s) => Some(&**s),
            _ => None,
        })
        .collect();
    let redirect_uris: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            StepKind::RedirectUri(r) => Some(&**r),
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
