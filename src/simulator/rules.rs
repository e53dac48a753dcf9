//! What the contract allows that a world file and a request are both checked against: a
//! redirect URI's platform settings, the Pub/Sub channel limit. A leaf: the world and the
//! state both use it, and it uses neither.

use serde_json::{Map, Value};

use crate::api::{AndroidSettings, IosSettings, JsSettings, PlatformSettings, RedirectPlatform};

/// Nylas's limit: "An application can have up to five Pub/Sub channels".
pub const MAX_PUBSUB_CHANNELS: usize = 5;

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
