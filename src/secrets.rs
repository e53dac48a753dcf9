//! Resolving a plan's secret references (`{ env: NAME }`, `{ file: PATH }`) into secrets, at
//! run time, with errors that name the reference and the pair but never a value.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::client::Secret;
use crate::graph::{PairTarget, StepGraph, StepKind};
use crate::plan::{ALLOW_SECRET_DIRS_VAR, SecretRef, SettingValue};
use crate::untrusted::escaped;

/// The largest secret file read. A secret is one line; a file far larger is the wrong file
/// (and `/dev/zero` or a huge log must not be read into memory).
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// A reference that could not be read.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum SecretError {
    #[error("environment variable {name} is not set ({what} of pair `{pair}`)")]
    #[diagnostic(
        code("secrets::missing-env"),
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
    #[diagnostic(
        code("secrets::empty-env"),
        help(
            "{name} is set but holds nothing (or only a byte-order mark and line breaks). In CI, a secret that is not configured for this repository, environment or branch (or a pull request from a fork) arrives as an empty string: check the secret store, then export {name} with the value"
        )
    )]
    EmptyEnv {
        name: String,
        what: String,
        pair: String,
    },
    #[error("environment variable {name} is not valid UTF-8 text ({what} of pair `{pair}`)")]
    #[diagnostic(
        code("secrets::not-utf8-env"),
        help("a Nylas API key or client secret is ASCII text: check how {name} is exported")
    )]
    NotUtf8Env {
        name: String,
        what: String,
        pair: String,
    },
    #[error("cannot read secret file {path} ({what} of pair `{pair}`): {reason}")]
    #[diagnostic(code("secrets::unreadable-file"), help("{help}"))]
    File {
        path: String,
        what: String,
        pair: String,
        reason: String,
        help: String,
    },
}

/// Where secrets are read from: the process environment, an overlay that takes precedence
/// (used by `demo`, which owns its simulated world's secrets), and files in the plan's folder
/// (or a folder the run allows, see [`crate::plan::Trust`]).
#[derive(Clone, Default)]
pub struct SecretSource {
    pub base_dir: PathBuf,
    pub overlay: HashMap<String, String>,
    /// Folders besides `base_dir` that secret files may be read from.
    pub allowed_dirs: Vec<PathBuf>,
}

impl std::fmt::Debug for SecretSource {
    // The overlay holds secret values: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSource")
            .field("base_dir", &self.base_dir)
            .field("overlay", &self.overlay.keys().collect::<Vec<_>>())
            .field("allowed_dirs", &self.allowed_dirs)
            .finish()
    }
}

impl SecretSource {
    pub fn new(base_dir: impl Into<PathBuf>) -> SecretSource {
        SecretSource {
            base_dir: base_dir.into(),
            overlay: HashMap::new(),
            allowed_dirs: Vec::new(),
        }
    }

    /// Values that take precedence over the environment, by variable name.
    pub fn with_overlay(mut self, overlay: HashMap<String, String>) -> SecretSource {
        self.overlay = overlay;
        self
    }

    /// Folders, besides the plan's, that secret files may be read from.
    pub fn allowing(mut self, dirs: Vec<PathBuf>) -> SecretSource {
        self.allowed_dirs = dirs;
        self
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
                    None => std::env::var(name).map_err(|e| match e {
                        std::env::VarError::NotPresent => SecretError::MissingEnv {
                            name: name.clone(),
                            what: what.to_owned(),
                            pair: pair.to_owned(),
                        },
                        std::env::VarError::NotUnicode(_) => SecretError::NotUtf8Env {
                            name: name.clone(),
                            what: what.to_owned(),
                            pair: pair.to_owned(),
                        },
                    })?,
                };
                let value = clean(value);
                if value.is_empty() {
                    return Err(SecretError::EmptyEnv {
                        name: name.clone(),
                        what: what.to_owned(),
                        pair: pair.to_owned(),
                    });
                }
                Ok(Secret::new(value).with_origin(format!("environment variable {name}")))
            }
            SecretRef::File(path) => {
                let full = self.base_dir.join(path);
                let shown = escaped(&full.display().to_string()).into_owned();
                let fail = |problem: FileProblem| SecretError::File {
                    path: shown.clone(),
                    what: what.to_owned(),
                    pair: pair.to_owned(),
                    reason: problem.reason,
                    help: problem.help,
                };
                self.check_inside(&full).map_err(fail)?;
                let text = read_secret_file(&full).map_err(fail)?;
                Ok(Secret::new(text).with_origin(format!("file {shown}")))
            }
        }
    }

    /// Refuses a file that is, once links are followed, outside the plan's folder and every
    /// allowed one: validation checks the path as written, this checks where it leads.
    fn check_inside(&self, full: &Path) -> Result<(), FileProblem> {
        let real = full.canonicalize().map_err(|e| FileProblem::io(&e))?;
        let inside = std::iter::once(&self.base_dir)
            .chain(&self.allowed_dirs)
            .filter_map(|dir| dir.canonicalize().ok())
            .any(|dir| real.starts_with(dir));
        if inside {
            return Ok(());
        }
        Err(FileProblem::new(
            format!(
                "it leads to {}, outside the plan's folder",
                escaped(&real.display().to_string())
            ),
            format!(
                "a plan cannot read files of its choosing: keep the file in the plan's folder (not a link out of it), or allow its folder with `--allow-secret-dir DIR` or {ALLOW_SECRET_DIRS_VAR}=DIR"
            ),
        ))
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

/// A secret as stored, without what editors and shells add around it: a UTF-8 byte-order mark
/// (Nylas would answer 401 to a key that starts with one) and trailing line breaks.
fn clean(mut value: String) -> String {
    if let Some(rest) = value.strip_prefix('\u{feff}') {
        value = rest.to_owned();
    }
    let end = value.trim_end_matches(['\n', '\r']).len();
    value.truncate(end);
    value
}

/// Why a secret file cannot be used, and what to do.
struct FileProblem {
    reason: String,
    help: String,
}

impl FileProblem {
    fn new(reason: impl Into<String>, help: impl Into<String>) -> FileProblem {
        FileProblem {
            reason: reason.into(),
            help: help.into(),
        }
    }

    fn io(err: &std::io::Error) -> FileProblem {
        FileProblem::new(
            err.to_string(),
            "relative paths are relative to the plan file's folder",
        )
    }
}

/// Reads a secret file: a regular file (never a FIFO, which would block, or a device such as
/// `/dev/zero`, which never ends), at most [`MAX_SECRET_FILE_BYTES`], UTF-8, cleaned of a
/// byte-order mark and trailing line breaks, and not empty. Warns when other users can read it.
fn read_secret_file(path: &Path) -> Result<String, FileProblem> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading blocks until a writer comes; non-blocking, the open
        // returns at once and the type check below refuses it.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| FileProblem::io(&e))?;
    let meta = file.metadata().map_err(|e| FileProblem::io(&e))?;
    if !meta.is_file() {
        return Err(FileProblem::new(
            "it is not a regular file (a folder, a pipe or a device)",
            "point the reference at a file that holds the secret on one line",
        ));
    }
    let too_big = || {
        FileProblem::new(
            format!(
                "it holds more than {} KiB; a secret file holds one value",
                MAX_SECRET_FILE_BYTES / 1024
            ),
            "check that the reference names the secret's file, not another one",
        )
    };
    if meta.len() > MAX_SECRET_FILE_BYTES {
        return Err(too_big());
    }
    warn_if_readable_by_others(path, &meta);
    let mut bytes = Vec::new();
    // The file may grow between the check and the read: never read past the limit.
    (&file)
        .take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileProblem::io(&e))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(too_big());
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        FileProblem::new(
            "it is not UTF-8 text",
            "a Nylas API key or client secret is ASCII text; save the file as UTF-8",
        )
    })?;
    let text = clean(text);
    if text.is_empty() {
        return Err(FileProblem::new(
            "the file is empty (or holds only a byte-order mark and line breaks)",
            "write the secret on the file's first line, e.g. `printf '%s' \"$KEY\" > FILE`",
        ));
    }
    Ok(text)
}

/// A warning, once per file and run, when users other than the owner can read a secret file.
fn warn_if_readable_by_others(path: &Path, meta: &std::fs::Metadata) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o044 == 0 {
            return;
        }
        let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
        if warned.iter().any(|p| p == path) {
            return;
        }
        warned.push(path.to_path_buf());
        let shown = escaped(&path.display().to_string()).into_owned();
        errln!(
            "warning: secret file {shown} can be read by other users (mode {mode:04o}); make it private: chmod 600 {shown}"
        );
    }
    #[cfg(not(unix))]
    let _ = (path, meta);
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
