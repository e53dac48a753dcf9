//! Read access to the simulator's current state for test assertions: a copy taken under the
//! lock, so a test can hold it across awaits without blocking the server.

use std::collections::BTreeMap;

use super::state::{MigrationStatus, State};
use crate::api::{
    Application, Connector, Grant, MigrationJob, PubsubChannel, RedirectUri, SnsChannel, Webhook,
};

/// The state of every v3 application and v2 account at one instant.
#[derive(Debug, Clone)]
pub struct WorldView {
    /// By v3 application id.
    pub apps: BTreeMap<String, AppView>,
    /// v2 account id → where its migration stands.
    pub accounts: BTreeMap<String, MigrationStatus>,
}

#[derive(Debug, Clone)]
pub struct AppView {
    pub application: Application,
    pub imported: bool,
    /// With their settings as given, secrets included (tests may check a fix was applied).
    pub connectors: Vec<Connector>,
    /// Oldest first.
    pub grants: Vec<Grant>,
    /// Newest batch first, the migration job before its snapshot job.
    pub jobs: Vec<MigrationJob>,
    /// Without their secrets.
    pub webhooks: Vec<Webhook>,
    /// Oldest first.
    pub pubsub_channels: Vec<PubsubChannel>,
    /// Oldest first.
    pub sns_channels: Vec<SnsChannel>,
    /// In the order they were added.
    pub redirect_uris: Vec<RedirectUri>,
}

impl WorldView {
    pub fn app(&self, application_id: &str) -> Option<&AppView> {
        self.apps.get(application_id)
    }

    /// The grant of a v2 account, in whichever app has it.
    pub fn grant_for(&self, account_id: &str) -> Option<&Grant> {
        self.apps
            .values()
            .flat_map(|a| &a.grants)
            .find(|g| g.account_id.as_deref() == Some(account_id))
    }

    pub fn status_of(&self, account_id: &str) -> Option<MigrationStatus> {
        self.accounts.get(account_id).copied()
    }
}

impl State {
    pub fn view(&self, now_ms: u64) -> WorldView {
        let mut apps = BTreeMap::new();
        for (i, app) in self.apps.iter().enumerate() {
            let connectors = app
                .connectors
                .iter()
                .map(|c| Connector {
                    settings: c.settings.clone(),
                    ..c.to_api()
                })
                .collect();
            apps.insert(
                self.v3(i).id.clone(),
                AppView {
                    application: super::routes::application_object(self, i),
                    imported: app.imported,
                    connectors,
                    grants: app.grants.iter().map(|g| self.grant_to_api(g)).collect(),
                    jobs: self
                        .jobs_of(i, now_ms)
                        .into_iter()
                        .map(|(j, _)| j)
                        .collect(),
                    webhooks: app.webhooks.iter().map(|w| w.to_api()).collect(),
                    pubsub_channels: app.pubsub.iter().map(|c| c.to_pubsub()).collect(),
                    sns_channels: app.sns.iter().map(|c| c.to_sns()).collect(),
                    redirect_uris: app.redirect_uris.clone(),
                },
            );
        }
        let mut accounts = BTreeMap::new();
        for app in &self.world.v2_apps {
            for account in &app.accounts {
                if let Some(r) = self.account_ref(&account.id) {
                    accounts.insert(account.id.clone(), self.status(r));
                }
            }
        }
        WorldView { apps, accounts }
    }
}
