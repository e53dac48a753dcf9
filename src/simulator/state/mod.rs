//! The simulator's mutable state: what each v3 application has become (link, import,
//! connectors, webhooks, notification channels, redirect URIs, grants, batch jobs) and where each
//! v2 account stands. One `State` sits
//! behind one mutex; every operation is a short, synchronous method on it.

mod account_index;
mod channels;
mod clone;
mod connectors;
mod grants;
mod jobs;
mod redirect_uris;
mod webhooks;

use std::collections::HashMap;

use account_index::AccountIndex;
pub use account_index::AccountRef;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use crate::simulator::rules::MAX_PUBSUB_CHANNELS;
pub use crate::simulator::rules::platform_settings;
pub use channels::{ChannelChanges, ChannelKind, ChannelState};
pub use clone::{CloneFailure, CloneOutcome, PlaceholderFlags};
pub use connectors::ConnectorState;
pub use grants::{GrantFilter, GrantRecord};
pub use jobs::{BatchJob, BatchSelection};
pub use redirect_uris::{RedirectRefusal, redirect_uri_wire};
pub use webhooks::{WebhookChanges, WebhookState};

use super::config::{EmptyFields, FailingJob, JobTiming};
use super::world::{V2Account, V2App, V3App, World};
use crate::api::{Branding, RedirectUri};

/// Where a v2 account stands in its migration, as batch clone modes see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStatus {
    /// Never attempted (`only_new` takes these).
    New,
    /// Has a valid grant.
    Migrated,
    /// Has an invalid placeholder grant.
    Placeholder,
    /// The last attempt failed (`only_failed` takes these).
    Failed,
}

const NO_GRANT: u32 = u32::MAX;

/// Where one v2 account stands.
#[derive(Debug, Clone, Copy)]
struct AccountProgress {
    /// Index into the linked v3 app's grants, or `NO_GRANT`. A v2 app is linked to one v3 app
    /// for good, so one index per account is enough.
    grant: u32,
    /// Clone attempts, single and batch, whatever their outcome.
    clones: u32,
    status: MigrationStatus,
}

impl Default for AccountProgress {
    fn default() -> Self {
        AccountProgress {
            grant: NO_GRANT,
            clones: 0,
            status: MigrationStatus::New,
        }
    }
}

/// A v3 application and everything the migration has done to it.
#[derive(Debug)]
pub struct AppState {
    /// The application's default workspace, where every grant it gets lands.
    pub workspace_id: String,
    pub linked_v2: Option<usize>,
    pub imported: bool,
    pub branding: Option<Branding>,
    pub connectors: Vec<ConnectorState>,
    pub webhooks: Vec<WebhookState>,
    pub pubsub: Vec<ChannelState>,
    pub sns: Vec<ChannelState>,
    /// In the order they were added.
    pub redirect_uris: Vec<RedirectUri>,
    pub grants: Vec<GrantRecord>,
    /// Every scope a grant of this app was given, each once (`GrantRecord::scope` indexes it).
    pub scopes: Vec<std::sync::Arc<[String]>>,
    pub grant_by_id: HashMap<u128, u32>,
    /// Indices into `State::jobs`, in creation order.
    pub jobs: Vec<usize>,
}

#[derive(Debug)]
pub struct State {
    pub world: World,
    /// Per account, parallel to `World::v2_apps[a].accounts`: a few bytes each rather than
    /// maps keyed by account, so a million accounts stay cheap.
    progress: Vec<Vec<AccountProgress>>,
    accounts: AccountIndex,
    v2_by_id: HashMap<Box<str>, usize>,
    v3_by_key: HashMap<Box<str>, usize>,
    pub apps: Vec<AppState>,
    pub jobs: Vec<BatchJob>,
    /// Jobs not finished yet: the only ones `tick` looks at.
    active_jobs: Vec<usize>,
    rng: StdRng,
    timing: JobTiming,
    failing_jobs: Vec<FailingJob>,
    /// What an update does with an optional field sent empty.
    pub empty_fields: EmptyFields,
}

impl State {
    /// The state before the first request; what the world seeds (channels, redirect URIs) is
    /// dated `start_ms`.
    pub fn new(
        world: World,
        seed: u64,
        timing: JobTiming,
        failing_jobs: Vec<FailingJob>,
        start_ms: u64,
    ) -> State {
        let start_s = super::clock::secs(start_ms);
        let accounts = AccountIndex::build(&world);
        let mut progress = Vec::with_capacity(world.v2_apps.len());
        let mut v2_by_id = HashMap::new();
        for (a, app) in world.v2_apps.iter().enumerate() {
            v2_by_id.insert(app.id.as_str().into(), a);
            progress.push(vec![AccountProgress::default(); app.accounts.len()]);
        }
        let mut v3_by_key = HashMap::new();
        let mut apps = Vec::with_capacity(world.v3_apps.len());
        for (i, app) in world.v3_apps.iter().enumerate() {
            v3_by_key.insert(app.api_key.as_str().into(), i);
            apps.push(AppState {
                workspace_id: super::ids::uuid_from_name(&format!("workspace:{}", app.id)),
                linked_v2: app
                    .linked_v2_app
                    .as_deref()
                    .and_then(|id| v2_by_id.get(id).copied()),
                imported: false,
                branding: None,
                connectors: Vec::new(),
                webhooks: Vec::new(),
                pubsub: (app.pubsub_channels.iter().enumerate())
                    .map(|(n, c)| ChannelState::seeded(&app.id, n, c, start_s))
                    .collect(),
                sns: (app.sns_channels.iter().enumerate())
                    .map(|(n, c)| ChannelState::seeded(&app.id, n, c, start_s))
                    .collect(),
                redirect_uris: app
                    .redirect_uris
                    .iter()
                    .filter_map(|r| redirect_uris::seeded_redirect_uri(&app.id, r))
                    .collect(),
                grants: Vec::new(),
                scopes: Vec::new(),
                grant_by_id: HashMap::new(),
                jobs: Vec::new(),
            });
        }
        State {
            world,
            progress,
            accounts,
            v2_by_id,
            v3_by_key,
            apps,
            jobs: Vec::new(),
            active_jobs: Vec::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x5eed_5eed_5eed_5eed),
            timing,
            failing_jobs,
            empty_fields: EmptyFields::default(),
        }
    }

    /// The v3 application an API key belongs to.
    pub fn app_for_key(&self, key: &str) -> Option<usize> {
        self.v3_by_key.get(key).copied()
    }

    pub fn v3(&self, app: usize) -> &V3App {
        &self.world.v3_apps[app]
    }

    pub fn v2_index(&self, id: &str) -> Option<usize> {
        self.v2_by_id.get(id).copied()
    }

    pub fn v2(&self, app: usize) -> &V2App {
        &self.world.v2_apps[app]
    }

    pub fn account_ref(&self, id: &str) -> Option<AccountRef> {
        self.accounts.get(&self.world, id)
    }

    pub fn account(&self, r: AccountRef) -> &V2Account {
        &self.world.v2_apps[r.app as usize].accounts[r.index as usize]
    }

    fn progress(&self, r: AccountRef) -> &AccountProgress {
        &self.progress[r.app as usize][r.index as usize]
    }

    fn progress_mut(&mut self, r: AccountRef) -> &mut AccountProgress {
        &mut self.progress[r.app as usize][r.index as usize]
    }

    pub fn status(&self, r: AccountRef) -> MigrationStatus {
        self.progress(r).status
    }

    fn set_status(&mut self, r: AccountRef, status: MigrationStatus) {
        self.progress_mut(r).status = status;
    }

    /// The account's grant: an index into the grants of the v3 app its v2 app is linked to.
    pub fn grant_index(&self, r: AccountRef) -> Option<u32> {
        let grant = self.progress(r).grant;
        (grant != NO_GRANT).then_some(grant)
    }

    fn count_clone(&mut self, r: AccountRef) {
        let progress = self.progress_mut(r);
        progress.clones = progress.clones.saturating_add(1);
    }

    /// Clone attempts of every account attempted at least once.
    pub fn clone_counts(&self) -> impl Iterator<Item = (AccountRef, u32)> + '_ {
        self.progress.iter().enumerate().flat_map(|(a, accounts)| {
            accounts
                .iter()
                .enumerate()
                .filter(|(_, p)| p.clones > 0)
                .map(move |(i, p)| {
                    (
                        AccountRef {
                            app: a as u32,
                            index: i as u32,
                        },
                        p.clones,
                    )
                })
        })
    }

    /// The v3 application a v2 application is linked to, if any.
    pub fn linked_v3_of(&self, v2: usize) -> Option<usize> {
        self.apps.iter().position(|a| a.linked_v2 == Some(v2))
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}
