//! Fingerprints of secrets: secrets cannot be read back from Nylas, so to know whether a
//! connector already has the plan's client secret, the journal keeps a keyed hash of the secret
//! it last wrote. The key lives in the state folder (mode 0600), so a journal alone cannot be
//! used to test guesses of a secret; with a PostgreSQL state, in its own table beside the
//! plan's journal (whoever can read that table and the journal can test guesses, as whoever can
//! read a state folder can).

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::client::Secret;

const KEY_FILE: &str = "fingerprint.key";

#[derive(Clone)]
pub struct Fingerprinter {
    key: [u8; 32],
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter(..)")
    }
}

impl Fingerprinter {
    /// Loads the state folder's key, creating it on first use.
    pub fn load_or_create(state_dir: &Path) -> std::io::Result<Fingerprinter> {
        let path = state_dir.join(KEY_FILE);
        // A key file another user can read lets them test guesses of every secret: private
        // (0600) whatever mode it was found with.
        super::private::tighten(&path)?;
        if let Ok(bytes) = std::fs::read(&path)
            && bytes.len() == 32
        {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(Fingerprinter { key });
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let mut file = super::private::open(
            &path,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true),
        )?;
        file.write_all(&key)?;
        file.sync_all()?;
        Ok(Fingerprinter { key })
    }

    /// A key kept elsewhere (the plan's key in a PostgreSQL state); `None` unless 32 bytes.
    pub fn from_key(bytes: &[u8]) -> Option<Fingerprinter> {
        let key: [u8; 32] = bytes.try_into().ok()?;
        Some(Fingerprinter { key })
    }

    /// A new random key, to be stored with the state.
    pub fn new_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        key
    }

    /// `hmac-sha256:<hex>` of the secret under this state's key, keyed by the pair too: the
    /// same secret in two pairs has two fingerprints, so the journal does not show that two
    /// pairs share a secret.
    pub fn fingerprint(&self, pair: &str, secret: &Secret) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            // HMAC takes keys of any length; this branch cannot be reached.
            return String::new();
        };
        // The pair's length first, so that no pair name and secret run into another's.
        mac.update(&(pair.len() as u64).to_be_bytes());
        mac.update(pair.as_bytes());
        mac.update(secret.expose().as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("hmac-sha256:{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_secret_in_two_pairs_has_two_fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        let f = Fingerprinter::load_or_create(dir.path()).unwrap();
        let secret = Secret::new("azure-client-secret".into());
        let alpha = f.fingerprint("alpha", &secret);
        assert_ne!(alpha, f.fingerprint("beta", &secret));
        assert_eq!(alpha, f.fingerprint("alpha", &secret), "stable per pair");
        assert!(!alpha.contains("azure"));
        // A pair name and a secret cannot run into another pair's.
        assert_ne!(
            f.fingerprint("ab", &Secret::new("c".into())),
            f.fingerprint("a", &Secret::new("bc".into()))
        );
    }
}
