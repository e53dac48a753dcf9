//! `simulate --write-plan`: a ready plan for the simulator's world, pointing at the running
//! simulator, with the world's secrets in an env file beside it (never in the plan).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::api::Region;
use crate::simulator::{AccountProvider, V2App, World};

/// A plan's text and the variables its references name, with their values.
pub struct WorldPlan {
    pub text: String,
    pub env: Vec<(String, String)>,
    pub pairs: usize,
}

/// The env file written beside `plan` when none is named: `plan.env`.
pub fn default_env_path(plan: &Path) -> PathBuf {
    plan.with_extension("env")
}

/// A pair per v2 application of the world, to the v3 application linked to it or else the
/// next free one of its region; its first account cloned as the test account, a Microsoft
/// connector fix when it has Microsoft accounts (import leaves that connector without
/// credentials), then one wave of every account not attempted yet.
pub fn plan_for_world(world: &World, us_url: &str, eu_url: &str, env_file: &str) -> WorldPlan {
    let mut env = Vec::new();
    let mut names = HashSet::new();
    let mut used_v3 = vec![false; world.v3_apps.len()];
    let mut pairs = Vec::new();
    let mut azure = false;
    for (i, v2) in world.v2_apps.iter().enumerate() {
        let linked = world
            .v3_apps
            .iter()
            .position(|v3| v3.linked_v2_app.as_deref() == Some(v2.id.as_str()));
        let free = || {
            (0..world.v3_apps.len()).find(|&j| {
                !used_v3[j]
                    && world.v3_apps[j].region == v2.region
                    && world.v3_apps[j].linked_v2_app.is_none()
            })
        };
        let Some(j) = linked.or_else(free) else {
            continue;
        };
        used_v3[j] = true;
        let v3 = &world.v3_apps[j];
        let name = unique_name(pair_name(v2, i), &mut names);
        let prefix = format!("SIM_{}", name.to_ascii_uppercase().replace(['-', '.'], "_"));
        let v2_var = format!("{prefix}_V2_CLIENT_SECRET");
        let v3_var = format!("{prefix}_V3_API_KEY");
        env.push((v2_var.clone(), v2.secret.clone()));
        env.push((v3_var.clone(), v3.api_key.clone()));
        let mut pair = format!(
            "  - name: {name}\n    region: {}\n    v2:\n      app_id: \"{}\"\n      client_secret: {{ env: {v2_var} }}\n    v3:\n      app_id: \"{}\"\n      api_key: {{ env: {v3_var} }}\n",
            v2.region, v2.id, v3.id
        );
        if v2.integrations.contains(&AccountProvider::Microsoft) {
            azure = true;
            pair.push_str(
                "    connectors:\n      # Import leaves Microsoft without credentials: a (simulated) Azure auth app.\n      - provider: microsoft\n        settings:\n          client_id: { env: SIM_AZURE_CLIENT_ID }\n          client_secret: { env: SIM_AZURE_CLIENT_SECRET }\n          tenant: common\n",
            );
        }
        pair.push_str("    clone:\n");
        if let Some(first) = v2.accounts.first() {
            pair.push_str(&format!(
                "      single: [\"{}\"] # a test account, cloned first\n",
                first.id
            ));
        }
        pair.push_str("      batches:\n        - { name: everyone, mode: only_new }\n");
        pairs.push(pair);
    }
    if azure {
        env.push((
            "SIM_AZURE_CLIENT_ID".into(),
            "simulated-azure-client-id".into(),
        ));
        env.push((
            "SIM_AZURE_CLIENT_SECRET".into(),
            "simulated-azure-client-secret".into(),
        ));
    }
    let text = format!(
        "# A plan for the world of a running `nylas-migrate simulate`, written by --write-plan.\n\
         # Its secrets are in {env_file}: `. {env_file}` before running.\n\
         # The URLs name the simulator's ports: start it with the same --listen to keep them.\n\
         version: 1\n\
         name: simulated\n\
         regions:\n  us: {{ api_url: \"{us_url}\" }}\n  eu: {{ api_url: \"{eu_url}\" }}\n\
         pairs:\n{}",
        pairs.join("\n")
    );
    WorldPlan {
        text,
        pairs: pairs.len(),
        env,
    }
}

/// A pair name from the v2 application's name (`Acme US` → `acme-us`), or its region.
fn pair_name(v2: &V2App, index: usize) -> String {
    let slug: String = v2
        .name
        .as_deref()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        let region = match v2.region {
            Region::Us => "us",
            Region::Eu => "eu",
        };
        format!("{region}-{}", index + 1)
    } else {
        slug.chars().take(48).collect()
    }
}

fn unique_name(name: String, taken: &mut HashSet<String>) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    candidate
}

/// The env file: one `export NAME='value'` line per variable, for `. ./FILE`.
pub fn env_file(env: &[(String, String)]) -> String {
    let mut text = String::from(
        "# Secrets of the simulated world (not real ones) for the plan beside this file.\n",
    );
    for (name, value) in env {
        text.push_str(&format!(
            "export {name}='{}'\n",
            value.replace('\'', "'\\''")
        ));
    }
    text
}
