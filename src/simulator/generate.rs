//! Generated worlds (`simulate --accounts N --seed S`): one v2 and one v3 application per region,
//! unlinked, with accounts split two to one between the U.S. and the E.U. over a realistic
//! provider mix. The same seed always gives the same world.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::ids;
use super::world::{AccountProvider, V2Account, V2App, V3App, World};
use crate::api::Region;

/// Provider shares, in per mille: Google 55%, Microsoft 30%, IMAP 8%, iCloud 4%, EWS 3%.
const PROVIDER_MIX: [(AccountProvider, u32); 5] = [
    (AccountProvider::Google, 550),
    (AccountProvider::Microsoft, 300),
    (AccountProvider::Imap, 80),
    (AccountProvider::Icloud, 40),
    (AccountProvider::Ews, 30),
];

/// Share of Microsoft accounts that are personal (Hotmail, Live, Outlook.com) and cannot be
/// migrated, in per mille; about 3% of all accounts.
const MICROSOFT_PERSONAL: u32 = 100;
/// Share of other accounts that cannot be migrated (revoked or broken credentials), per mille.
const OTHER_UNMIGRATABLE: u32 = 5;

const FIRST: [&str; 16] = [
    "ana", "ben", "chloe", "david", "emma", "farid", "grace", "hugo", "ines", "jonas", "kai",
    "lena", "mateo", "nora", "omar", "priya",
];
const LAST: [&str; 16] = [
    "smith", "garcia", "muller", "rossi", "dubois", "kowalski", "tanaka", "silva", "novak",
    "jensen", "oconnor", "haddad", "khan", "lopez", "meyer", "chen",
];
const COMPANIES: [&str; 8] = [
    "acme.com",
    "globex.io",
    "initech.com",
    "umbrella.co",
    "hooli.com",
    "stark.dev",
    "wayne.org",
    "tyrell.net",
];

impl World {
    /// A world of `accounts` v2 accounts, reproducible from `seed`.
    pub fn generate(accounts: usize, seed: u64) -> World {
        let mut rng = StdRng::seed_from_u64(seed);
        let us_count = accounts - accounts / 3;
        let mut world = World::default();
        for (region, count) in [(Region::Us, us_count), (Region::Eu, accounts / 3)] {
            let v2 = generate_v2_app(&mut rng, region, count);
            let v3 = V3App {
                id: ids::uuid(&mut rng),
                api_key: ids::api_key(&mut rng),
                region,
                organization_id: Some(ids::uuid(&mut rng)),
                linked_v2_app: None,
                pubsub_channels: Vec::new(),
                sns_channels: Vec::new(),
                redirect_uris: Vec::new(),
            };
            world.v2_apps.push(v2);
            world.v3_apps.push(v3);
        }
        world
    }
}

fn generate_v2_app(rng: &mut StdRng, region: Region, count: usize) -> V2App {
    let mut accounts = Vec::with_capacity(count);
    let mut used = [false; 5];
    for n in 0..count {
        let provider = pick_provider(rng);
        used[provider as usize] = true;
        accounts.push(generate_account(rng, provider, n));
    }
    // Every provider the app has accounts for has an integration, as in a working v2 app.
    let integrations = AccountProvider::ALL
        .into_iter()
        .filter(|p| used[*p as usize])
        .collect();
    V2App {
        id: ids::v2_id(rng),
        secret: ids::v2_secret(rng),
        region,
        name: Some(format!("Acme {}", region.as_str().to_uppercase())),
        website_url: Some("https://acme.example".into()),
        icon_url: Some("https://acme.example/icon.png".into()),
        integrations,
        accounts,
        redirect_uris: Vec::new(),
    }
}

fn pick_provider(rng: &mut StdRng) -> AccountProvider {
    let mut roll = rng.random_range(0..1000u32);
    for (provider, share) in PROVIDER_MIX {
        if roll < share {
            return provider;
        }
        roll -= share;
    }
    AccountProvider::Google
}

/// Domains of Microsoft's consumer (personal) accounts: Outlook.com, Hotmail, Live.
pub const PERSONAL_MICROSOFT_DOMAINS: [&str; 3] = ["outlook.com", "hotmail.com", "live.com"];

fn generate_account(rng: &mut StdRng, provider: AccountProvider, n: usize) -> V2Account {
    let first = FIRST[rng.random_range(0..FIRST.len())];
    let last = LAST[rng.random_range(0..LAST.len())];
    let company = COMPANIES[rng.random_range(0..COMPANIES.len())];
    let (domain, migratable) = match provider {
        AccountProvider::Microsoft if rng.random_range(0..1000) < MICROSOFT_PERSONAL => {
            let personal = PERSONAL_MICROSOFT_DOMAINS;
            (personal[rng.random_range(0..personal.len())], false)
        }
        _ => {
            let domain = match provider {
                AccountProvider::Google if rng.random_bool(0.4) => "gmail.com",
                AccountProvider::Imap => ["fastmail.com", "zoho.com", "gmx.net"][n % 3],
                AccountProvider::Icloud => ["icloud.com", "me.com"][n % 2],
                _ => company,
            };
            (domain, rng.random_range(0..1000) >= OTHER_UNMIGRATABLE)
        }
    };
    V2Account {
        id: ids::v2_id(rng),
        provider,
        email: format!("{first}.{last}{n}@{domain}"),
        migratable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_world_and_a_realistic_mix() {
        let a = World::generate(5000, 42);
        assert_eq!(a, World::generate(5000, 42));
        assert_ne!(a, World::generate(5000, 43));
        assert_eq!(a.account_count(), 5000);
        a.check().unwrap();
        let all: Vec<&V2Account> = a.v2_apps.iter().flat_map(|app| &app.accounts).collect();
        let share = |p: AccountProvider| {
            all.iter().filter(|acc| acc.provider == p).count() as f64 / all.len() as f64
        };
        assert!((share(AccountProvider::Google) - 0.55).abs() < 0.03);
        assert!((share(AccountProvider::Microsoft) - 0.30).abs() < 0.03);
        let stuck = all.iter().filter(|acc| !acc.migratable).count() as f64 / all.len() as f64;
        assert!(stuck > 0.01 && stuck < 0.07, "{stuck}");
        assert!(all.iter().all(|acc| ids::is_v2_id(&acc.id)));
    }
}
