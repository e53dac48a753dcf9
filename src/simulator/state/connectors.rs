//! Connectors: created by import from the v2 integrations, or by `create_connector`, and fixed
//! with `update_connector_by_provider`. A connector "works" once it has what its provider needs;
//! clones of an account need a working connector for the account's provider.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{AppState, State};
use crate::api::{Branding, Connector, ConnectorProvider};
use crate::simulator::world::AccountProvider;

#[derive(Debug, Clone)]
pub struct ConnectorState {
    pub provider: ConnectorProvider,
    /// As given, secrets included; `to_api` leaves the secrets out.
    pub settings: Option<Map<String, Value>>,
    /// Shared with the grants made while it was the connector's scope: replacing it leaves
    /// theirs as it was.
    pub scope: Option<Arc<[String]>>,
    pub active_credential_id: Option<String>,
}

impl ConnectorState {
    pub fn new(
        provider: ConnectorProvider,
        settings: Option<Map<String, Value>>,
        scope: Option<Vec<String>>,
    ) -> ConnectorState {
        ConnectorState {
            provider,
            settings,
            scope: scope.map(Arc::from),
            active_credential_id: None,
        }
    }

    /// Whether clones can use this connector: providers with an auth app need its `client_id`
    /// and `client_secret`.
    pub fn works(&self) -> bool {
        if !self.provider.needs_credentials() {
            return true;
        }
        let has = |key: &str| {
            self.settings
                .as_ref()
                .and_then(|s| s.get(key))
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        };
        has("client_id") && has("client_secret")
    }

    /// The connector as the API returns it, every field present (empty when unset). Secrets
    /// cannot be read back: settings whose name says secret or password are left out.
    pub fn to_api(&self) -> Connector {
        Connector {
            name: connector_name(self.provider),
            provider: self.provider,
            settings: Some(
                self.settings
                    .iter()
                    .flatten()
                    .filter(|(k, _)| !is_secret_key(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            scope: Some(
                self.scope
                    .as_deref()
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
            ),
            active_credential_id: Some(self.active_credential_id.clone().unwrap_or_default()),
        }
    }
}

pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("secret") || key.contains("password")
}

fn connector_name(provider: ConnectorProvider) -> String {
    let name = match provider {
        ConnectorProvider::Google => "Google",
        ConnectorProvider::Microsoft => "Microsoft",
        ConnectorProvider::Imap => "IMAP",
        ConnectorProvider::Icloud => "iCloud",
        ConnectorProvider::Yahoo => "Yahoo",
        ConnectorProvider::VirtualCalendar => "Virtual Calendar",
        ConnectorProvider::Ews => "EWS",
        ConnectorProvider::Zoom => "Zoom",
        ConnectorProvider::Nylas => "Nylas",
    };
    format!("{name} Connector")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The connector import makes from a v2 integration, as the migration guide describes: Google
/// gets the integration's credentials (it works), Microsoft gets no credentials (it needs a new
/// Azure app), IMAP, iCloud and EWS get default values.
fn imported_connector(provider: AccountProvider, v2_app_id: &str) -> ConnectorState {
    match provider {
        AccountProvider::Google => {
            let mut settings = Map::new();
            settings.insert(
                "client_id".into(),
                Value::String(format!("{v2_app_id}.apps.googleusercontent.com")),
            );
            settings.insert(
                "client_secret".into(),
                Value::String(format!("GOCSPX-imported-{v2_app_id}")),
            );
            ConnectorState::new(
                ConnectorProvider::Google,
                Some(settings),
                Some(strings(&[
                    "https://www.googleapis.com/auth/userinfo.email",
                    "https://www.googleapis.com/auth/userinfo.profile",
                    "https://www.googleapis.com/auth/gmail.modify",
                    "https://www.googleapis.com/auth/calendar",
                ])),
            )
        }
        AccountProvider::Microsoft => {
            let mut settings = Map::new();
            settings.insert("tenant".into(), Value::String("common".into()));
            ConnectorState::new(
                ConnectorProvider::Microsoft,
                Some(settings),
                Some(strings(&["Mail.Read", "User.Read", "offline_access"])),
            )
        }
        AccountProvider::Imap => ConnectorState::new(ConnectorProvider::Imap, None, None),
        AccountProvider::Icloud => ConnectorState::new(ConnectorProvider::Icloud, None, None),
        AccountProvider::Ews => ConnectorState::new(
            ConnectorProvider::Ews,
            Some(Map::new()),
            Some(strings(&["ews.messages", "ews.calendar", "ews.contacts"])),
        ),
    }
}

impl AppState {
    pub fn connector(&self, provider: ConnectorProvider) -> Option<&ConnectorState> {
        self.connectors.iter().find(|c| c.provider == provider)
    }

    pub fn connector_mut(&mut self, provider: ConnectorProvider) -> Option<&mut ConnectorState> {
        self.connectors.iter_mut().find(|c| c.provider == provider)
    }
}

impl State {
    /// Imports the linked v2 app into v3 app `app`: branding, a connector per integration that
    /// has none yet (a second import leaves fixed connectors alone), and the v2 app's redirect
    /// URIs the v3 app does not have yet.
    pub fn import(&mut self, app: usize, v2: usize) {
        let v2_app = &self.world.v2_apps[v2];
        let branding = Branding {
            name: v2_app.name.clone(),
            icon_url: v2_app.icon_url.clone(),
            website_url: v2_app.website_url.clone(),
            description: None,
        };
        let made: Vec<ConnectorState> = v2_app
            .integrations
            .iter()
            .map(|p| imported_connector(*p, &v2_app.id))
            .collect();
        let state = &mut self.apps[app];
        state.branding = Some(branding);
        state.imported = true;
        for connector in made {
            if state.connector(connector.provider).is_none() {
                state.connectors.push(connector);
            }
        }
        self.import_redirect_uris(app, v2);
    }
}
