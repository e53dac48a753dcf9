//! Identifiers shaped like Nylas's: v2 ids are 25 lowercase base36 characters, v3 application,
//! grant, job and request ids are UUIDs, webhook ids are 26 alphanumerics. Drawn from a seeded
//! generator so that a world or a run can be reproduced.

use rand::Rng;
use rand::rngs::StdRng;

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn draw(rng: &mut StdRng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A v2 application, account or object id: 25 lowercase base36 characters.
pub fn v2_id(rng: &mut StdRng) -> String {
    draw(rng, BASE36, 25)
}

/// A v2 application secret.
pub fn v2_secret(rng: &mut StdRng) -> String {
    draw(rng, BASE36, 25)
}

/// A random (version 4) UUID from the seeded generator.
pub fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

/// A random (version 4) UUID as its 128 bits.
pub fn uuid_bits(rng: &mut StdRng) -> u128 {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .as_u128()
}

/// A UUID (version 4 layout) derived from `name`: the same name always gives the same id, and
/// no draw is taken from a seeded generator (so adding one changes no other id).
pub fn uuid_from_name(name: &str) -> String {
    let mut high = 0x6a09_e667_f3bc_c908_u64;
    let mut low = 0xbb67_ae85_84ca_a73b_u64;
    for byte in name.bytes() {
        high = splitmix(high ^ u64::from(byte));
        low = splitmix(low.rotate_left(8) ^ high);
    }
    let bytes = (u128::from(high) << 64 | u128::from(low)).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// `len` alphanumerics derived from `name` (like [`uuid_from_name`], no draw is taken): the ids
/// of channels a world file seeds without one.
pub fn alnum_from_name(name: &str, len: usize) -> String {
    let mut state = 0x243f_6a88_85a3_08d3_u64;
    for byte in name.bytes() {
        state = splitmix(state ^ u64::from(byte));
    }
    (0..len)
        .map(|i| {
            state = splitmix(state ^ i as u64);
            char::from(ALNUM[(state % ALNUM.len() as u64) as usize])
        })
        .collect()
}

/// A request id: a version 4 UUID from a counter mixed with a per-process salt. Unique and
/// cheap (no system call per request), which is all a request id needs.
pub fn request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SALT: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let salt = *SALT.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = splitmix(salt ^ n);
    let bytes = (u128::from(high) << 64 | u128::from(n ^ salt)).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A v3 API key, shaped like Nylas's `nyk_v0_…` keys.
pub fn api_key(rng: &mut StdRng) -> String {
    format!("nyk_v0_{}", draw(rng, ALNUM, 48))
}

/// A webhook destination id.
pub fn webhook_id(rng: &mut StdRng) -> String {
    draw(rng, ALNUM, 26)
}

/// A webhook signing secret.
pub fn webhook_secret(rng: &mut StdRng) -> String {
    draw(rng, ALNUM, 20)
}

/// The value of a webhook verification `challenge`.
pub fn challenge(rng: &mut StdRng) -> String {
    draw(rng, ALNUM, 32)
}

/// Whether `id` looks like a v2 id (25 lowercase base36 characters).
#[cfg(test)]
pub fn is_v2_id(id: &str) -> bool {
    id.len() == 25 && id.bytes().all(|b| BASE36.contains(&b))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn ids_have_nylas_shapes() {
        let mut rng = StdRng::seed_from_u64(7);
        let id = v2_id(&mut rng);
        assert!(is_v2_id(&id), "{id}");
        let u = uuid(&mut rng);
        assert_eq!(
            uuid::Uuid::parse_str(&u).map(|u| u.get_version_num()).ok(),
            Some(4)
        );
        assert!(api_key(&mut rng).starts_with("nyk_v0_"));
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        assert_eq!(
            uuid::Uuid::parse_str(&a).map(|u| u.get_version_num()).ok(),
            Some(4)
        );
    }
}
