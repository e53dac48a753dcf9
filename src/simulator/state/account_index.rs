//! v2 account id → where the account sits, for a million accounts without a second copy of
//! every id: keyed by a 64-bit hash of the id and checked against the world's own id. The rare
//! ids whose hash collides with another's are kept by name.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::simulator::world::World;

/// Where a v2 account sits: `app` indexes `World::v2_apps`, `index` its `accounts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRef {
    pub app: u32,
    pub index: u32,
}

#[derive(Debug, Default)]
pub struct AccountIndex {
    by_hash: HashMap<u64, AccountRef>,
    collided: HashMap<Box<str>, AccountRef>,
}

fn hash(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

fn id_at(world: &World, r: AccountRef) -> &str {
    &world.v2_apps[r.app as usize].accounts[r.index as usize].id
}

impl AccountIndex {
    /// Indexes every account of `world` (whose ids are unique: `World::check`).
    pub fn build(world: &World) -> AccountIndex {
        let mut index = AccountIndex {
            by_hash: HashMap::with_capacity(world.account_count()),
            collided: HashMap::new(),
        };
        for (a, app) in world.v2_apps.iter().enumerate() {
            for (i, account) in app.accounts.iter().enumerate() {
                let r = AccountRef {
                    app: a as u32,
                    index: i as u32,
                };
                match index.by_hash.entry(hash(&account.id)) {
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(r);
                    }
                    std::collections::hash_map::Entry::Occupied(_) => {
                        index.collided.insert(account.id.as_str().into(), r);
                    }
                }
            }
        }
        index
    }

    pub fn get(&self, world: &World, id: &str) -> Option<AccountRef> {
        if let Some(r) = self.collided.get(id) {
            return Some(*r);
        }
        self.by_hash
            .get(&hash(id))
            .copied()
            .filter(|r| id_at(world, *r) == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_account_and_nothing_else() {
        let world = World::generate(2000, 3);
        let index = AccountIndex::build(&world);
        for (a, app) in world.v2_apps.iter().enumerate() {
            for (i, account) in app.accounts.iter().enumerate() {
                let r = index.get(&world, &account.id).unwrap();
                assert_eq!((r.app as usize, r.index as usize), (a, i));
            }
        }
        assert_eq!(index.get(&world, "0000000000000000000000000"), None);
        // A forced collision is still resolved by name.
        let mut forced = index;
        let first = &world.v2_apps[0].accounts[0].id;
        let r = forced.by_hash.remove(&hash(first)).unwrap();
        forced
            .by_hash
            .insert(hash(first), AccountRef { app: 0, index: 1 });
        forced.collided.insert(first.as_str().into(), r);
        assert_eq!(forced.get(&world, first), Some(r));
    }
}
