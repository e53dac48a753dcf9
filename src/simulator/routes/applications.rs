//! `get_application`: what the link step observes (region, linked v2 application).

use super::{Ctx, Handled, Reply};
use crate::api::Application;
use crate::simulator::state::State;

/// The application object of v3 app `app`, as `get_application` and the link return it.
pub fn application_object(state: &State, app: usize) -> Application {
    let v3 = state.v3(app);
    let app_state = &state.apps[app];
    Application {
        application_id: Some(v3.id.clone()),
        organization_id: v3.organization_id.clone(),
        region: Some(v3.region.as_str().to_string()),
        environment: Some("production".into()),
        v2_application_id: app_state.linked_v2.map(|v2| state.v2(v2).id.clone()),
        branding: app_state.branding.clone(),
    }
}

pub fn get(state: &mut State, ctx: &Ctx) -> Handled {
    Ok(Reply::ok(
        ctx.request_id,
        application_object(state, ctx.app),
    ))
}
