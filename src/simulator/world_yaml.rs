//! Writes a world as a YAML world file (`simulate --write-world`). Hand-written because the
//! project keeps YAML parsing behind `crate::yaml` and has no YAML serializer; every string is
//! double-quoted with JSON escapes, which YAML's double-quoted style accepts, so any id or email
//! round-trips. Accounts are flow mappings, one per line, to keep large worlds readable and small;
//! seeded channels and redirect URIs are written as JSON objects, one per line (JSON is YAML's
//! flow style).

use std::fmt::Write;

use super::world::World;

fn quoted(s: &str) -> String {
    // serde_json cannot fail on a &str.
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

impl World {
    /// The world as a YAML world file that `World::from_yaml_str` reads back unchanged.
    pub fn to_yaml(&self) -> String {
        let mut out = String::with_capacity(128 + self.account_count() * 96);
        out.push_str("# nylas-migrate simulator world (format: docs/simulator.md)\n");
        out.push_str(
            "# It holds v2 secrets and v3 API keys of the simulated apps: not real ones.\n",
        );
        out.push_str("v2_apps:\n");
        if self.v2_apps.is_empty() {
            out.truncate(out.len() - 1);
            out.push_str(" []\n");
        }
        for app in &self.v2_apps {
            let _ = writeln!(out, "  - id: {}", quoted(&app.id));
            let _ = writeln!(out, "    secret: {}", quoted(&app.secret));
            let _ = writeln!(out, "    region: {}", app.region);
            for (key, value) in [
                ("name", &app.name),
                ("website_url", &app.website_url),
                ("icon_url", &app.icon_url),
            ] {
                if let Some(value) = value {
                    let _ = writeln!(out, "    {key}: {}", quoted(value));
                }
            }
            let integrations: Vec<&str> = app.integrations.iter().map(|p| p.as_str()).collect();
            let _ = writeln!(out, "    integrations: [{}]", integrations.join(", "));
            if !app.redirect_uris.is_empty() {
                let uris: Vec<String> = app.redirect_uris.iter().map(|u| quoted(u)).collect();
                let _ = writeln!(out, "    redirect_uris: [{}]", uris.join(", "));
            }
            if app.accounts.is_empty() {
                out.push_str("    accounts: []\n");
            } else {
                out.push_str("    accounts:\n");
            }
            for account in &app.accounts {
                let _ = writeln!(
                    out,
                    "      - {{id: {}, provider: {}, email: {}, migratable: {}}}",
                    quoted(&account.id),
                    account.provider,
                    quoted(&account.email),
                    account.migratable
                );
            }
        }
        if self.v3_apps.is_empty() {
            out.push_str("v3_apps: []\n");
        } else {
            out.push_str("v3_apps:\n");
        }
        for app in &self.v3_apps {
            let _ = writeln!(out, "  - id: {}", quoted(&app.id));
            let _ = writeln!(out, "    api_key: {}", quoted(&app.api_key));
            let _ = writeln!(out, "    region: {}", app.region);
            if let Some(org) = &app.organization_id {
                let _ = writeln!(out, "    organization_id: {}", quoted(org));
            }
            if let Some(v2) = &app.linked_v2_app {
                let _ = writeln!(out, "    linked_v2_app: {}", quoted(v2));
            }
            json_list(&mut out, "pubsub_channels", &app.pubsub_channels);
            json_list(&mut out, "sns_channels", &app.sns_channels);
            json_list(&mut out, "redirect_uris", &app.redirect_uris);
        }
        if !self.unreachable_hosts.is_empty() {
            let hosts: Vec<String> = self.unreachable_hosts.iter().map(|h| quoted(h)).collect();
            let _ = writeln!(out, "unreachable_hosts: [{}]", hosts.join(", "));
        }
        out
    }
}

/// `key:` and one JSON object per item, or nothing for no items.
fn json_list<T: serde::Serialize>(out: &mut String, key: &str, items: &[T]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "    {key}:");
    for item in items {
        // The seeded types are plain data: they always serialize.
        let json = serde_json::to_string(item).unwrap_or_else(|_| String::from("{}"));
        let _ = writeln!(out, "      - {json}");
    }
}
