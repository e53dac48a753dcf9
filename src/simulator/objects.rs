//! The v2 objects each simulated account holds, as `translate_v2id_to_provider_id` serves them:
//! a fixed number per account and resource type (messages and threads up to 6,999, so that an
//! account often needs two or three pages of 3,000; the other types up to 399), created one every
//! ten minutes from 2020-09-13, with v2 IDs and provider IDs derived from the account's ID. The
//! same account always has the same objects, so tests and benchmarks can count what a
//! translation must return without asking the simulator.
//!
//! Provider IDs look like each provider's: Gmail's 16 hex digits, Microsoft Graph and EWS's
//! `AAMk…` item IDs, iCloud's and IMAP's numbers, and for IMAP folders the folder's *name*, as the
//! contract says Nylas returns it (its v3 ID is base64 of `v0:<GRANT_ID>:<FOLDER_NAME>`).

use super::world::{AccountProvider, V2Account};

/// The resource types translate accepts, in the contract's order.
pub const RESOURCE_TYPES: [&str; 8] = [
    "messages",
    "drafts",
    "threads",
    "contacts",
    "contactgroups",
    "events",
    "calendars",
    "folders",
];

/// When an account's first object was created (Unix seconds); the next ones follow every
/// [`OBJECT_SPACING`] seconds.
pub const FIRST_OBJECT_AT: i64 = 1_600_000_000;
/// Seconds between two objects of one account and resource type.
pub const OBJECT_SPACING: i64 = 600;

/// Domains of Microsoft's consumer accounts (Outlook.com, Hotmail, Live): v2 knew these as
/// provider `outlook`.
const OUTLOOK_DOMAINS: [&str; 4] = ["outlook.com", "hotmail.com", "live.com", "msn.com"];

/// Whether translate refuses this account: a v2 account whose provider is `Outlook` (a Microsoft
/// consumer account), which the contract says translate does not serve.
pub fn is_outlook(account: &V2Account) -> bool {
    account.provider == AccountProvider::Microsoft
        && account.email.rsplit_once('@').is_some_and(|(_, domain)| {
            OUTLOOK_DOMAINS.contains(&domain.to_ascii_lowercase().as_str())
        })
}

/// A fixed 64-bit mix (splitmix64), so objects are the same on every run.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn encode(mut x: u64, alphabet: &[u8], len: usize) -> String {
    let base = alphabet.len() as u64;
    let mut out = String::with_capacity(len);
    for round in 0..len {
        if round % 10 == 9 {
            x = mix(x);
        }
        out.push(char::from(alphabet[(x % base) as usize]));
        x /= base;
    }
    out
}

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// IMAP folder names, some of them hard for a CSV or a terminal (a comma, a quote, non-ASCII):
/// translate returns them verbatim.
const IMAP_FOLDERS: [&str; 10] = [
    "INBOX",
    "Sent",
    "Drafts",
    "Trash",
    "Archive/2023",
    "Clients, \"VIP\"",
    "Entwürfe",
    "[Gmail]/All Mail",
    "Rechnungen",
    "Projects/Überblick",
];

/// The objects of one account and resource type.
#[derive(Debug, Clone)]
pub struct AccountObjects<'a> {
    account: &'a V2Account,
    resource_type: &'a str,
    seed: u64,
    count: usize,
}

impl<'a> AccountObjects<'a> {
    /// `None` for a resource type the contract does not know.
    pub fn new(account: &'a V2Account, resource_type: &'a str) -> Option<AccountObjects<'a>> {
        if !RESOURCE_TYPES.contains(&resource_type) {
            return None;
        }
        let seed = hash_str(&account.id) ^ hash_str(resource_type).rotate_left(17);
        let count = match resource_type {
            "messages" | "threads" => mix(seed) % 7000,
            _ => mix(seed) % 400,
        } as usize;
        Some(AccountObjects {
            account,
            resource_type,
            seed,
            count,
        })
    }

    /// How many objects the account has of this type.
    pub fn count(&self) -> usize {
        self.count
    }

    /// When object `i` was created (Unix seconds).
    pub fn created_at(i: usize) -> i64 {
        FIRST_OBJECT_AT.saturating_add((i as i64).saturating_mul(OBJECT_SPACING))
    }

    /// The index of the first object created strictly after `since` (`count()` if none).
    pub fn first_after(&self, since: Option<i64>) -> usize {
        let Some(since) = since else {
            return 0;
        };
        if since < FIRST_OBJECT_AT {
            return 0;
        }
        let at_or_before = (since - FIRST_OBJECT_AT) / OBJECT_SPACING + 1;
        usize::try_from(at_or_before)
            .unwrap_or(usize::MAX)
            .min(self.count)
    }

    /// How many objects a translation from `since` returns.
    pub fn count_after(&self, since: Option<i64>) -> usize {
        self.count - self.first_after(since)
    }

    /// Object `i`'s v2 ID: 25 base36 characters.
    pub fn v2_id(&self, i: usize) -> String {
        encode(
            mix(self.seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)),
            BASE36,
            25,
        )
    }

    /// Object `i`'s provider ID, as translate returns it in `v3_resource_id`.
    pub fn v3_id(&self, i: usize) -> String {
        let x = mix(self.seed.rotate_left(29) ^ i as u64);
        match (self.account.provider, self.resource_type) {
            (AccountProvider::Imap, "folders") => {
                let name = IMAP_FOLDERS[i % IMAP_FOLDERS.len()];
                match i / IMAP_FOLDERS.len() {
                    0 => name.to_owned(),
                    n => format!("{name} {n}"),
                }
            }
            (AccountProvider::Google, "folders") => format!("Label_{}", x % 1_000_000_000),
            (AccountProvider::Google, _) => format!("{x:016x}"),
            (AccountProvider::Microsoft | AccountProvider::Ews, _) => {
                format!("AAMkA{}", encode(x, BASE64URL, 60))
            }
            (AccountProvider::Imap | AccountProvider::Icloud, _) => {
                format!("{}", x % 10_000_000 + 1)
            }
        }
    }

    /// The index of the object whose v2 ID is `id`, if the account has it.
    pub fn find(&self, id: &str) -> Option<usize> {
        (0..self.count).find(|&i| self.v2_id(i) == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(provider: AccountProvider, email: &str) -> V2Account {
        V2Account {
            id: "a000000000000000000000001".into(),
            provider,
            email: email.into(),
            migratable: true,
        }
    }

    #[test]
    fn objects_are_fixed_and_since_is_exclusive() {
        let a = account(AccountProvider::Google, "ana@acme.com");
        let objects = AccountObjects::new(&a, "messages").unwrap();
        let again = AccountObjects::new(&a, "messages").unwrap();
        assert_eq!(objects.count(), again.count());
        assert_eq!(objects.v2_id(3), again.v2_id(3));
        assert_ne!(objects.v2_id(3), objects.v2_id(4));
        assert_eq!(objects.v2_id(0).len(), 25);
        assert_eq!(objects.first_after(None), 0);
        assert_eq!(objects.first_after(Some(FIRST_OBJECT_AT - 1)), 0);
        // An object created exactly at `since` is not "after" it.
        assert_eq!(
            objects.first_after(Some(FIRST_OBJECT_AT)),
            1.min(objects.count())
        );
        assert_eq!(
            objects.first_after(Some(AccountObjects::created_at(9) + 1)),
            10.min(objects.count())
        );
        assert_eq!(objects.first_after(Some(i64::MAX)), objects.count());
        assert!(AccountObjects::new(&a, "emails").is_none());
        if objects.count() > 5 {
            assert_eq!(objects.find(&objects.v2_id(5)), Some(5));
        }
    }

    #[test]
    fn imap_folders_are_names_and_outlook_is_recognised() {
        let imap = account(AccountProvider::Imap, "kai@fastmail.com");
        let folders = AccountObjects::new(&imap, "folders").unwrap();
        assert_eq!(folders.v3_id(0), "INBOX");
        assert_eq!(folders.v3_id(IMAP_FOLDERS.len()), "INBOX 1");
        assert!(is_outlook(&account(
            AccountProvider::Microsoft,
            "bob@Hotmail.com"
        )));
        assert!(!is_outlook(&account(
            AccountProvider::Microsoft,
            "bob@acme.com"
        )));
        assert!(!is_outlook(&account(
            AccountProvider::Imap,
            "bob@outlook.com"
        )));
    }
}
