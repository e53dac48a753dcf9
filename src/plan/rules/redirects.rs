//! Redirect URIs and connectors: each platform's and provider's own settings.

use super::{Rules, is_loopback, short};
use crate::api::forms;
use crate::api::{ConnectorProvider, RedirectPlatform};
use crate::code::Code;
use crate::plan::diagnostic::PlanDiagnostic;
use crate::plan::model::{ConnectorFix, Pair, RedirectUriSettings};
use crate::plan::words::all_of;

impl Rules<'_> {
    /// Redirect URIs: a usable URL for the platform, one entry per URL, and only the platform's
    /// own settings, with those it requires.
    pub(super) fn redirect_uris(&mut self, base: &str, pair: &Pair) {
        self.unique_by(
            Code::PlanDuplicateRedirectUri,
            "redirect URI",
            pair.redirect_uris
                .iter()
                .enumerate()
                .map(|(j, r)| (j, forms::normalized_url(&r.url), r.url.as_str())),
            |j| format!("{base}/redirect_uris/{j}/url"),
            Some("a URL identifies a redirect URI (one platform each): keep one entry"),
        );
        for (j, uri) in pair.redirect_uris.iter().enumerate() {
            let pointer = format!("{base}/redirect_uris/{j}");
            let platform = uri.platform;
            if let Err(problem) = check_redirect_url(&uri.url, platform) {
                let mobile = matches!(platform, RedirectPlatform::Ios | RedirectPlatform::Android);
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadUrl,
                        self.span(&format!("{pointer}/url")),
                        format!("the {platform} redirect URI {problem}"),
                    )
                    .label("not a usable redirect URI")
                    .help(if mobile {
                        format!("a {platform} redirect URI is an https URL (plain http only for localhost) or a deep link, such as com.acme.app://oauth/callback")
                    } else {
                        format!("a {platform} redirect URI is an absolute https URL (plain http only for localhost), such as https://app.acme.example/oauth/callback")
                    }),
                );
            }
            self.redirect_settings(&pointer, platform, uri.settings.as_ref());
        }
    }

    pub(super) fn redirect_settings(
        &mut self,
        pointer: &str,
        platform: RedirectPlatform,
        settings: Option<&RedirectUriSettings>,
    ) {
        let Some(settings) = settings else {
            return;
        };
        let settings_ptr = format!("{pointer}/settings");
        for &(key, owner, _, present) in REDIRECT_SETTINGS {
            if present(settings) && owner != platform {
                let d = PlanDiagnostic::new(
                    Code::PlanSettingNotForPlatform,
                    self.span(&format!("{settings_ptr}/{key}")),
                    format!(
                        "`{key}` is {} setting, not {} one",
                        with_article(owner),
                        with_article(platform)
                    ),
                )
                .label(format!("not used by {platform} redirect URIs"));
                let own: Vec<&str> = REDIRECT_SETTINGS
                    .iter()
                    .filter(|(_, p, _, _)| *p == platform)
                    .map(|(k, _, _, _)| *k)
                    .collect();
                self.out.push(if own.is_empty() {
                    d.help(format!(
                        "{platform} redirect URIs have no settings: remove `settings`, or set `platform: {owner}` if the URI is for {} app",
                        with_article(owner)
                    ))
                } else {
                    d.help(format!(
                        "{platform} redirect URIs take {}: remove `{key}`, or set `platform: {owner}` if the URI is for {} app",
                        all_of(&own),
                        with_article(owner)
                    ))
                });
            }
        }
        for &(key, owner, required, present) in REDIRECT_SETTINGS {
            if owner == platform && required && !present(settings) {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanMissingKey,
                        self.span(&settings_ptr),
                        format!("{platform} redirect URI settings need `{key}`"),
                    )
                    .label(format!("`{key}` is missing"))
                    .help(format!(
                        "Nylas requires {} in {} redirect URI's settings",
                        all_of(
                            REDIRECT_SETTINGS
                                .iter()
                                .filter(|(_, p, r, _)| *p == platform && *r)
                                .map(|(k, _, _, _)| k)
                        ),
                        with_article(platform)
                    )),
                );
            }
        }
    }

    pub(super) fn connector_settings(
        &mut self,
        pointer: &str,
        provider: ConnectorProvider,
        connector: &ConnectorFix,
    ) {
        let Some(settings) = &connector.settings else {
            return;
        };
        let settings_ptr = format!("{pointer}/settings");
        if provider.needs_credentials() {
            for (present, key) in [
                (settings.client_id.is_some(), "client_id"),
                (settings.client_secret.is_some(), "client_secret"),
            ] {
                if !present {
                    self.out.push(
                        PlanDiagnostic::new(
                            Code::PlanMissingKey,
                            self.span(&settings_ptr),
                            format!("{provider} connector settings need `{key}`"),
                        )
                        .label(format!("`{key}` is missing"))
                        .help(format!(
                            "Nylas requires the {provider} auth app's client_id and client_secret together"
                        )),
                    );
                }
            }
        } else {
            for (present, key) in [
                (settings.client_id.is_some(), "client_id"),
                (settings.client_secret.is_some(), "client_secret"),
            ] {
                if present {
                    self.out.push(
                        PlanDiagnostic::new(
                            Code::PlanSettingNotForProvider,
                            self.span(&format!("{settings_ptr}/{key}")),
                            format!("{provider} connectors take no `{key}`"),
                        )
                        .label("not used by this provider")
                        .help("only google, microsoft, yahoo and zoom connectors have auth-app credentials"),
                    );
                }
            }
        }
        for (present, key, only) in [
            (
                settings.tenant.is_some(),
                "tenant",
                ConnectorProvider::Microsoft,
            ),
            (
                settings.topic_name.is_some(),
                "topic_name",
                ConnectorProvider::Google,
            ),
        ] {
            if present && provider != only {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanSettingNotForProvider,
                        self.span(&format!("{settings_ptr}/{key}")),
                        format!("`{key}` is a {only} setting, not a {provider} one"),
                    )
                    .label("not used by this provider"),
                );
            }
        }
    }
}

/// Each redirect URI setting: the platform it belongs to, whether that platform's settings
/// require it (the contract's `RedirectURIObject`), and whether a plan's settings have it.
type RedirectSetting = (
    &'static str,
    RedirectPlatform,
    bool,
    fn(&RedirectUriSettings) -> bool,
);

const REDIRECT_SETTINGS: &[RedirectSetting] = &[
    ("origin", RedirectPlatform::Js, true, |s| s.origin.is_some()),
    ("bundle_id", RedirectPlatform::Ios, true, |s| {
        s.bundle_id.is_some()
    }),
    ("app_store_id", RedirectPlatform::Ios, false, |s| {
        s.app_store_id.is_some()
    }),
    ("team_id", RedirectPlatform::Ios, false, |s| {
        s.team_id.is_some()
    }),
    ("package_name", RedirectPlatform::Android, true, |s| {
        s.package_name.is_some()
    }),
    (
        "sha1_certificate_fingerprint",
        RedirectPlatform::Android,
        true,
        |s| s.sha1_certificate_fingerprint.is_some(),
    ),
];

/// `a web`, `an ios`: the platform with its article.
fn with_article(platform: RedirectPlatform) -> String {
    match platform {
        RedirectPlatform::Ios | RedirectPlatform::Android => format!("an {platform}"),
        _ => format!("a {platform}"),
    }
}

/// A redirect URI for `platform`, worded like [`check_webhook_url`]: https (http only to
/// loopback), and for `ios` and `android` also a deep link, as [`forms::check_redirect_uri`]
/// (the simulator's rule) accepts.
fn check_redirect_url(raw: &str, platform: RedirectPlatform) -> Result<(), String> {
    let mobile = matches!(platform, RedirectPlatform::Ios | RedirectPlatform::Android);
    if let Ok(url) = reqwest::Url::parse(raw)
        && !matches!(url.scheme(), "http" | "https")
    {
        return match (mobile, forms::check_redirect_uri(raw, platform)) {
            (true, Ok(())) => Ok(()),
            (true, Err(_)) => Err(
                "is neither an https URL nor a deep link <package-or-bundle-name>://<path>".into(),
            ),
            (false, _) => Err(format!(
                "uses the scheme `{}`, not https",
                short(url.scheme())
            )),
        };
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    match url.scheme() {
        "http" if !is_loopback(&url) => {
            Err("uses plain http to a host that is not localhost".into())
        }
        _ => Ok(()),
    }
}
