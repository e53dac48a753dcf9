//! Redirect (callback) URIs of a v3 application: added by hand, by import (copied from the
//! linked v2 application), or seeded by the world file.

use super::State;
use crate::api::forms::check_redirect_uri;
use crate::api::{PlatformSettings, RedirectUri};
use crate::simulator::ids;
use crate::simulator::rules::platform_settings;
use crate::simulator::world::SeededRedirectUri;

/// A redirect URI as every response carries it: every property its platform's schema lists,
/// `""` for an iOS app's unset `app_store_id` and `team_id`.
pub fn redirect_uri_wire(uri: &RedirectUri) -> RedirectUri {
    let mut wire = uri.clone();
    if let PlatformSettings::Ios {
        settings: Some(settings),
    } = &mut wire.platform
    {
        settings.app_store_id.get_or_insert_with(String::new);
        settings.team_id.get_or_insert_with(String::new);
    }
    wire
}

/// A seeded redirect URI, checked by `World::check`.
pub fn seeded_redirect_uri(app_id: &str, seed: &SeededRedirectUri) -> Option<RedirectUri> {
    let platform = platform_settings(seed.platform, seed.settings.as_ref()).ok()?;
    Some(RedirectUri {
        id: seed.id.clone().unwrap_or_else(|| {
            ids::uuid_from_name(&format!("redirect:{app_id}:{}:{}", seed.platform, seed.url))
        }),
        url: seed.url.clone(),
        platform,
    })
}

/// Why a redirect URI cannot be added or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRefusal {
    /// A 400 with this message.
    Invalid(String),
    /// No redirect URI with this id (a 404).
    NotFound,
}

impl State {
    fn check_redirect_uri(
        &self,
        app: usize,
        except: Option<&str>,
        url: &str,
        platform: &PlatformSettings,
    ) -> Result<(), RedirectRefusal> {
        check_redirect_uri(url, platform.platform()).map_err(RedirectRefusal::Invalid)?;
        let duplicate = self.apps[app].redirect_uris.iter().any(|r| {
            Some(r.id.as_str()) != except
                && r.url == url
                && r.platform.platform() == platform.platform()
        });
        if duplicate {
            return Err(RedirectRefusal::Invalid(format!(
                "redirect URI {url} ({}) already exists",
                platform.platform()
            )));
        }
        Ok(())
    }

    /// Adds a redirect URI; `id` is the caller's UUID, or one is made.
    pub fn add_redirect_uri(
        &mut self,
        app: usize,
        id: Option<String>,
        url: String,
        platform: PlatformSettings,
    ) -> Result<RedirectUri, RedirectRefusal> {
        self.check_redirect_uri(app, None, &url, &platform)?;
        let id = match id {
            Some(id) => {
                if uuid::Uuid::parse_str(&id).is_err() {
                    return Err(RedirectRefusal::Invalid(format!(
                        "id {id:?} must be a UUID"
                    )));
                }
                if self.apps[app].redirect_uris.iter().any(|r| r.id == id) {
                    return Err(RedirectRefusal::Invalid(format!(
                        "a redirect URI with id {id} already exists"
                    )));
                }
                id
            }
            None => ids::uuid(self.rng()),
        };
        let uri = RedirectUri { id, url, platform };
        self.apps[app].redirect_uris.push(uri.clone());
        Ok(uri)
    }

    /// Replaces redirect URI `id`'s URL, platform and settings.
    pub fn update_redirect_uri(
        &mut self,
        app: usize,
        id: &str,
        url: String,
        platform: PlatformSettings,
    ) -> Result<RedirectUri, RedirectRefusal> {
        if !self.apps[app].redirect_uris.iter().any(|r| r.id == id) {
            return Err(RedirectRefusal::NotFound);
        }
        self.check_redirect_uri(app, Some(id), &url, &platform)?;
        let uri = self.apps[app]
            .redirect_uris
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(RedirectRefusal::NotFound)?;
        uri.url = url;
        uri.platform = platform;
        Ok(uri.clone())
    }

    /// Removes redirect URI `id`; false when there is none.
    pub fn delete_redirect_uri(&mut self, app: usize, id: &str) -> bool {
        let uris = &mut self.apps[app].redirect_uris;
        let before = uris.len();
        uris.retain(|r| r.id != id);
        uris.len() != before
    }

    /// Import's part: every redirect URI of v2 app `v2` the v3 app does not have yet, as a
    /// `web` redirect URI (v2 has no platforms).
    pub(super) fn import_redirect_uris(&mut self, app: usize, v2: usize) {
        let urls = self.world.v2_apps[v2].redirect_uris.clone();
        for url in urls {
            let present = self.apps[app]
                .redirect_uris
                .iter()
                .any(|r| r.url == url && r.platform == PlatformSettings::Web);
            if !present {
                let id = ids::uuid(self.rng());
                self.apps[app].redirect_uris.push(RedirectUri {
                    id,
                    url,
                    platform: PlatformSettings::Web,
                });
            }
        }
    }
}
