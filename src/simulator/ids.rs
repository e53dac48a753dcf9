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
    }
}
