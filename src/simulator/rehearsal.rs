//! Rehearsing a plan: a generated world reshaped so that the plan's applications and test
//! accounts exist in it, with the secrets its references name. The demo and the engine's tests
//! use it to apply a real plan to the simulator.

use std::collections::HashMap;

use super::world::World;
use crate::plan::{Plan, SecretRef, SettingValue};

/// Gives `world`'s applications (one v2 and one v3 per region, as [`World::generate`] makes
/// them) the IDs of the plan's pairs in that region, and the first accounts of each v2 app the
/// IDs of the pair's test accounts. Returns the world and, by environment variable name, the
/// secret values the plan's `{ env: … }` references should resolve to.
pub fn world_for_plan(plan: &Plan, mut world: World) -> (World, HashMap<String, String>) {
    let mut secrets = HashMap::new();
    let mut used_v2 = vec![false; world.v2_apps.len()];
    let mut used_v3 = vec![false; world.v3_apps.len()];
    for pair in &plan.pairs {
        if let Some(i) = (0..world.v2_apps.len())
            .find(|&i| !used_v2[i] && world.v2_apps[i].region == pair.region)
        {
            used_v2[i] = true;
            let v2 = &mut world.v2_apps[i];
            v2.id = pair.v2.app_id.clone();
            if let Some(name) = pair.v2.client_secret.env_name() {
                secrets.insert(name.to_owned(), v2.secret.clone());
            }
            for (account, id) in v2.accounts.iter_mut().zip(&pair.clone.single) {
                account.id = id.clone();
            }
        }
        if let Some(i) = (0..world.v3_apps.len())
            .find(|&i| !used_v3[i] && world.v3_apps[i].region == pair.region)
        {
            used_v3[i] = true;
            let v3 = &mut world.v3_apps[i];
            v3.id = pair.v3.app_id.clone();
            if let Some(name) = pair.v3.api_key.env_name() {
                secrets.insert(name.to_owned(), v3.api_key.clone());
            }
        }
        // Connector credentials are the user's own (an Azure app, a GCP app): any value works.
        for connector in &pair.connectors {
            let Some(settings) = &connector.settings else {
                continue;
            };
            let mut refs: Vec<&SecretRef> = settings.client_secret.iter().collect();
            if let Some(SettingValue::Secret(r)) = &settings.client_id {
                refs.push(r);
            }
            for name in refs.into_iter().filter_map(SecretRef::env_name) {
                secrets
                    .entry(name.to_owned())
                    .or_insert_with(|| format!("rehearsal-{}", name.to_ascii_lowercase()));
            }
        }
    }
    (world, secrets)
}
