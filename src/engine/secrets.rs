//! Resolving a plan's secret references (`{ env: NAME }`, `{ file: PATH }`) into secrets, at
//! run time, with errors that name the reference and the pair but never a value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::client::Secret;
use crate::graph::{PairTarget, StepGraph, StepKind};
use crate::plan::{SecretRef, SettingValue};

/// A reference that could not be read.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum SecretError {
    #[error("environment variable {name} is not set ({what} of pair `{pair}`)")]
    #[diagnostic(
        code(secrets::missing_env),
        help(
            "export {name} before running, e.g. from your secret store; secrets never come from flags or the plan"
        )
    )]
    MissingEnv {
        name: String,
        what: String,
        pair: String,
    },
    #[error("environment variable {name} is empty ({what} of pair `{pair}`)")]
    #[diagnostic(code(secrets::empty_env))]
    EmptyEnv {
        name: String,
        what: String,
        pair: String,
    },
    #[error("cannot read secret file {path} ({what} of pair `{pair}`): {reason}")]
    #[diagnostic(
        code(secrets::unreadable_file),
        help("relative paths are relative to the plan file's folder")
    )]
    File {
        path: String,
        what: String,
        pair: String,
        reason: String,
    },
}

/// Where secrets are read from: the process environment, an overlay that takes precedence
/// (used by `demo`, which owns its simulated world's secrets), and the plan's folder for files.
#[derive(Clone, Default)]
pub struct SecretSource {
    pub base_dir: PathBuf,
    pub overlay: HashMap<String, String>,
}

impl std::fmt::Debug for SecretSource {
    // The overlay holds secret values: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSource")
            .field("base_dir", &self.base_dir)
            .field("overlay", &self.overlay.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretSource {
    pub fn new(base_dir: impl Into<PathBuf>) -> SecretSource {
        SecretSource {
            base_dir: base_dir.into(),
            overlay: HashMap::new(),
        }
    }

    pub fn resolve(
        &self,
        reference: &SecretRef,
        what: &str,
        pair: &str,
    ) -> Result<Secret, SecretError> {
        match reference {
            SecretRef::Env(name) => {
                let value = match self.overlay.get(name) {
                    Some(v) => v.clone(),
                    None => std::env::var(name).map_err(|_| SecretError::MissingEnv {
                        name: name.clone(),
                        what: what.to_owned(),
                        pair: pair.to_owned(),
                    })?,
                };
                if value.is_empty() {
                    return Err(SecretError::EmptyEnv {
                        name: name.clone(),
                        what: what.to_owned(),
                        pair: pair.to_owned(),
                    });
                }
                Ok(Secret::new(value))
            }
            SecretRef::File(path) => {
                let full = if path.is_absolute() {
                    path.clone()
                } else {
                    self.base_dir.join(path)
                };
                let text = read_secret_file(&full).map_err(|reason| SecretError::File {
                    path: full.display().to_string(),
                    what: what.to_owned(),
                    pair: pair.to_owned(),
                    reason,
                })?;
                Ok(Secret::new(text))
            }
        }
    }

    /// A setting that may be literal or a reference.
    pub fn setting(
        &self,
        value: &SettingValue,
        what: &str,
        pair: &str,
    ) -> Result<Secret, SecretError> {
        match value {
            SettingValue::Literal(text) => Ok(Secret::new(text.clone())),
            SettingValue::Secret(reference) => self.resolve(reference, what, pair),
        }
    }
}

fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return Err("the file is empty".into());
    }
    Ok(trimmed.to_owned())
}

/// The secrets one pair needs, resolved.
#[derive(Debug, Clone)]
pub struct PairSecrets {
    pub v2_client_secret: Secret,
    pub v3_api_key: Secret,
}

/// Resolves every secret the graph's steps will need, reporting every missing one at once.
pub fn resolve_all(
    graph: &StepGraph,
    source: &SecretSource,
) -> Result<Vec<PairSecrets>, Vec<SecretError>> {
    let mut errors = Vec::new();
    let mut resolved = Vec::new();
    for pair in graph.pairs() {
        match resolve_pair(pair, source) {
            Ok(secrets) => resolved.push(secrets),
            Err(mut e) => errors.append(&mut e),
        }
    }
    // Connector settings are resolved when their step runs; check them now so a missing one is
    // reported before anything is written.
    for step in graph.steps() {
        if let StepKind::Connector(c) = &step.kind
            && let Some(settings) = &c.settings
        {
            let pair = &graph.pair_of(step).name;
            let what = format!("{} connector", c.provider);
            if let Some(id) = &settings.client_id
                && let Err(e) = source.setting(id, &format!("{what} client_id"), pair)
            {
                errors.push(e);
            }
            if let Some(secret) = &settings.client_secret
                && let Err(e) = source.resolve(secret, &format!("{what} client_secret"), pair)
            {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(errors)
    }
}

fn resolve_pair(pair: &PairTarget, source: &SecretSource) -> Result<PairSecrets, Vec<SecretError>> {
    let v2 = source.resolve(&pair.v2_client_secret, "v2 client secret", &pair.name);
    let v3 = source.resolve(&pair.v3_api_key, "v3 API key", &pair.name);
    match (v2, v3) {
        (Ok(v2_client_secret), Ok(v3_api_key)) => Ok(PairSecrets {
            v2_client_secret,
            v3_api_key,
        }),
        (a, b) => Err([a.err(), b.err()].into_iter().flatten().collect()),
    }
}
