//! Redirect (callback) URIs of a v3 application: added by hand, by import (copied from the
//! linked v2 application), or seeded by the world file.

use serde_json::{Map, Value};

use super::State;
use crate::api::forms::check_redirect_uri;
use crate::api::{
    AndroidSettings, IosSettings, JsSettings, PlatformSettings, RedirectPlatform, RedirectUri,
};
use crate::simulator::ids;
use crate::simulator::world::SeededRedirectUri;

/// The settings the contract gives each platform, as a request or a world file spells them,
/// checked: `web` and `desktop` take none; `js` needs `origin`; `ios` needs `bundle_id` and may
/// have `app_store_id` and `team_id`; `android` needs `package_name` and
/// `sha1_certificate_fingerprint` (20 colon-separated hex bytes). An unknown setting is refused.
pub fn platform_settings(
    platform: RedirectPlatform,
    settings: Option<&Map<String, Value>>,
) -> Result<PlatformSettings, String> {
    let empty = Map::new();
    let given = settings.unwrap_or(&empty);
    let (required, optional): (&[&str], &[&str]) = match platform {
        RedirectPlatform::Web | RedirectPlatform::Desktop => (&[], &[]),
        RedirectPlatform::Js => (&["origin"], &[]),
        RedirectPlatform::Ios => (&["bundle_id"], &["app_store_id", "team_id"]),
        RedirectPlatform::Android => (&["package_name", "sha1_certificate_fingerprint"], &[]),
    };
    if required.is_empty() && !given.is_empty() {
        return Err(format!("{platform} redirect URIs take no settings"));
    }
    if let Some(unknown) = given
        .keys()
        .find(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str()))
    {
        return Err(format!(
            "unknown setting {unknown:?} for a {platform} redirect URI; it takes {}",
            required
                .iter()
                .chain(optional)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let text = |name: &str| -> Result<Option<String>, String> {
        match given.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("settings.{name} must be a string")),
        }
    };
    let needed = |name: &str| -> Result<String, String> {
        text(name)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("a {platform} redirect URI needs settings.{name}"))
    };
    Ok(match platform {
        RedirectPlatform::Web => PlatformSettings::Web,
        RedirectPlatform::Desktop => PlatformSettings::Desktop,
        RedirectPlatform::Js => PlatformSettings::Js {
            settings: Some(JsSettings {
                origin: needed("origin")?,
            }),
        },
        RedirectPlatform::Ios => PlatformSettings::Ios {
            settings: Some(IosSettings {
                bundle_id: needed("bundle_id")?,
                app_store_id: text("app_store_id")?.filter(|s| !s.is_empty()),
                team_id: text("team_id")?.filter(|s| !s.is_empty()),
            }),
        },
        RedirectPlatform::Android => {
            let fingerprint = needed("sha1_certificate_fingerprint")?;
            if !is_sha1_fingerprint(&fingerprint) {
                return Err(format!(
                    "settings.sha1_certificate_fingerprint {fingerprint:?} must be a SHA-1 fingerprint: 20 hex bytes separated by colons"
                ));
            }
            PlatformSettings::Android {
                settings: Some(AndroidSettings {
                    package_name: needed("package_name")?,
                    sha1_certificate_fingerprint: fingerprint,
                }),
            }
        }
    })
}

fn is_sha1_fingerprint(s: &str) -> bool {
    let bytes: Vec<&str> = s.split(':').collect();
    bytes.len() == 20
        && bytes
            .iter()
            .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
}

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
