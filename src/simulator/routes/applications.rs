//! `get_application`: what the link step observes (region, linked v2 application).

use serde::Serialize;

use super::{Ctx, Handled, Reply};
use crate::api::{Application, Branding, RedirectUri};
use crate::simulator::state::{State, redirect_uri_wire};

/// The application object of v3 app `app`, as far as the runner reads it (`None` where the
/// application has no value), for the world view.
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

/// `hosted_authentication` of `ApplicationObject`: the hosted sign-in page's look. A v2 import
/// does not set it; these are its empty values (the alignment, an enum, at its middle value).
#[derive(Debug, Clone, Serialize)]
struct HostedAuthentication {
    background_image_url: String,
    alignment: &'static str,
    color_primary: String,
    color_secondary: String,
    title: String,
    subtitle: String,
    background_color: String,
    spacing: u32,
}

/// `ApplicationObject` with every property the contract lists, as the simulator sends it:
/// strings the application has no value for are empty (`v2_application_id` before a link,
/// `branding`'s fields before an import), as are the hosted page's settings; `callback_uris`
/// are the application's redirect URIs.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationWire {
    #[serde(flatten)]
    application: Application,
    default_workspace_id: String,
    hosted_authentication: HostedAuthentication,
    callback_uris: Vec<RedirectUri>,
}

pub fn application_wire(state: &State, app: usize) -> ApplicationWire {
    let object = application_object(state, app);
    let filled = |s: Option<String>| Some(s.unwrap_or_default());
    let branding = object.branding.unwrap_or_default();
    ApplicationWire {
        application: Application {
            application_id: filled(object.application_id),
            organization_id: filled(object.organization_id),
            region: filled(object.region),
            environment: object.environment,
            v2_application_id: filled(object.v2_application_id),
            branding: Some(Branding {
                name: filled(branding.name),
                icon_url: filled(branding.icon_url),
                website_url: filled(branding.website_url),
                description: filled(branding.description),
            }),
        },
        default_workspace_id: state.apps[app].workspace_id.clone(),
        hosted_authentication: HostedAuthentication {
            background_image_url: String::new(),
            alignment: "center",
            color_primary: String::new(),
            color_secondary: String::new(),
            title: String::new(),
            subtitle: String::new(),
            background_color: String::new(),
            spacing: 0,
        },
        callback_uris: state.apps[app]
            .redirect_uris
            .iter()
            .map(redirect_uri_wire)
            .collect(),
    }
}

pub fn get(state: &mut State, ctx: &Ctx) -> Handled {
    Ok(Reply::ok(ctx.request_id, application_wire(state, ctx.app)))
}
