//! Where a plan's state (journal and lock) lives: a local folder (an SQLite journal and a file
//! lock, the embedded default) or a PostgreSQL database that every runner of a pipeline shares
//! (keyed by the plan's name, with an advisory lock).
//!
//! The location comes from `--state` (a folder, or a `postgres://` URL without a password), else
//! from the plan's `state.postgres.url` secret reference, else the folder beside the plan. A
//! PostgreSQL URL is parsed here once; its password (from the plan's secret or `PGPASSWORD`,
//! never from a flag) is kept as a [`Secret`] and never shown: every place that shows the
//! location shows [`PostgresTarget::shown`], where a password is `***`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use crate::client::Secret;
use crate::plan::{ALLOW_STATE_HOSTS_VAR, StateSettings, Trust};
use crate::secrets::{SecretError, SecretSource};
use crate::untrusted::escaped;

/// The environment variable a PostgreSQL password is read from when the URL holds none.
pub const PASSWORD_VAR: &str = "PGPASSWORD";

/// Where a plan's state lives.
#[derive(Debug, Clone)]
pub enum StateLocation {
    /// A local folder: `journal.sqlite`, the lock file, the fingerprint key.
    Folder(PathBuf),
    /// A PostgreSQL database shared by every runner, keyed by the plan's name.
    Postgres(Box<PostgresTarget>),
}

impl StateLocation {
    /// Where the state is for a plan: `--state` (`flag`), else the plan's `state`, else
    /// `default_folder`. A plan's secret reference is resolved with `source`; its host must be
    /// one `trust` allows.
    pub fn resolve(
        flag: Option<&Path>,
        plan_state: Option<&StateSettings>,
        default_folder: PathBuf,
        source: &SecretSource,
        trust: &Trust,
    ) -> Result<StateLocation, StateError> {
        if let Some(flag) = flag {
            return match flag.to_str().filter(|s| PostgresTarget::is_url(s)) {
                Some(url) => Ok(StateLocation::Postgres(Box::new(
                    PostgresTarget::from_flag(url)?,
                ))),
                None => Ok(StateLocation::Folder(flag.to_path_buf())),
            };
        }
        match plan_state {
            Some(state) => {
                let url = source
                    .resolve(&state.postgres.url, "PostgreSQL state URL", "")
                    .map_err(StateError::from_secret)?;
                Ok(StateLocation::Postgres(Box::new(
                    PostgresTarget::from_secret(&url, trust)?,
                )))
            }
            None => Ok(StateLocation::Folder(default_folder)),
        }
    }

    /// The folder, for a local state.
    pub fn folder(&self) -> Option<&Path> {
        match self {
            StateLocation::Folder(dir) => Some(dir),
            StateLocation::Postgres(_) => None,
        }
    }

    /// `state folder .nylas-migrate`, `PostgreSQL state postgres://ci@db:5432/migrations`.
    pub fn describe(&self) -> String {
        match self {
            StateLocation::Folder(dir) => format!("state folder {}", dir.display()),
            StateLocation::Postgres(target) => format!("PostgreSQL state {}", target.shown()),
        }
    }
}

/// The folder's path, or the URL as shown (password masked).
impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::Folder(dir) => write!(f, "{}", dir.display()),
            StateLocation::Postgres(target) => f.write_str(target.shown()),
        }
    }
}

/// How the PostgreSQL connection uses TLS (`sslmode` in the URL). Unlike libpq's `prefer` and
/// `require`, a TLS connection's certificate is always verified (chain and host name) against
/// the roots the API client trusts: no mode sends the password to a server whose certificate
/// was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it (verified), plain otherwise. The default, as in libpq.
    Prefer,
    /// TLS or no connection.
    Require,
    /// TLS or no connection; the same as `require` here, since every certificate is verified.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        match text {
            "disable" => Some(SslMode::Disable),
            "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }
}

/// A PostgreSQL state database: where to connect, as whom, with which TLS mode. The password
/// is held apart from the rest, and nothing shown holds it.
#[derive(Clone)]
pub struct PostgresTarget {
    /// Host, port, user, database and parameters; never the password.
    config: postgres::Config,
    password: Option<Secret>,
    ssl: SslMode,
    shown: String,
    ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("url", &self.shown)
            .field("ssl", &self.ssl)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Where a URL came from: the command line may not hold a password, and may name any host (the
/// runner typed it); a plan's may hold one, and its hosts must be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Flag,
    Plan,
}

impl PostgresTarget {
    /// Whether `text` is a PostgreSQL URL (rather than a folder).
    pub fn is_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// A URL given with `--state`: a password in it is refused (a command line is seen by
    /// other users, kept in shell histories and CI logs); `PGPASSWORD` supplies it.
    pub fn from_flag(url: &str) -> Result<PostgresTarget, StateError> {
        PostgresTarget::parse(url, Origin::Flag, &Trust::default())
    }

    /// The URL a plan's `state.postgres.url` reference holds; it may hold the password. Every
    /// host it names must be loopback or allowed by the run.
    pub fn from_secret(url: &Secret, trust: &Trust) -> Result<PostgresTarget, StateError> {
        PostgresTarget::parse(url.expose().trim(), Origin::Plan, trust)
    }

    fn parse(text: &str, origin: Origin, trust: &Trust) -> Result<PostgresTarget, StateError> {
        if !PostgresTarget::is_url(text) {
            return Err(StateError::InvalidUrl {
                detail: "it does not start with postgres:// or postgresql://".into(),
            });
        }
        // Parse errors name the problem, never the text: it may hold a password.
        let url = url::Url::parse(text).map_err(|e| StateError::InvalidUrl {
            detail: e.to_string(),
        })?;
        let mut ssl = SslMode::Prefer;
        let mut query_password = None;
        let mut kept: Vec<(String, String)> = Vec::new();
        for (key, value) in url.query_pairs() {
            match &*key {
                "sslmode" => {
                    ssl = SslMode::parse(&value).ok_or_else(|| StateError::SslMode {
                        mode: escaped(&value).into_owned(),
                    })?;
                }
                "password" => query_password = Some(value.into_owned()),
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        let has_password = url.password().is_some() || query_password.is_some();
        // The URL as shown: the password masked wherever it was.
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        shown.set_query(None);
        if !url.query().unwrap_or_default().is_empty() {
            let mut pairs = shown.query_pairs_mut();
            for (key, value) in url.query_pairs() {
                if key == "password" {
                    pairs.append_pair(&key, "***");
                } else {
                    pairs.append_pair(&key, &value);
                }
            }
        }
        let shown = escaped(shown.as_str()).into_owned();
        if has_password && origin == Origin::Flag {
            return Err(StateError::PasswordOnCommandLine { shown });
        }
        // tokio-postgres reads the rest (percent-decoding, Unix socket hosts, parameters);
        // sslmode is ours (it knows no verify-full), the password is kept apart.
        let mut bare = url.clone();
        let _ = bare.set_password(None);
        bare.set_query(None);
        if !kept.is_empty() {
            bare.query_pairs_mut().extend_pairs(&kept);
        }
        let config =
            postgres::Config::from_str(bare.as_str()).map_err(|e| StateError::InvalidUrl {
                detail: e.to_string(),
            })?;
        if config.get_user().is_none() {
            return Err(StateError::InvalidUrl {
                detail: "it names no user".into(),
            });
        }
        let password = match (url.password(), query_password) {
            (_, Some(password)) => Some(password),
            (Some(_), None) => {
                // Decoded as tokio-postgres decodes it.
                let mut with = url.clone();
                with.set_query(None);
                postgres::Config::from_str(with.as_str())
                    .ok()
                    .and_then(|c| c.get_password().map(|p| String::from_utf8_lossy(p).into()))
            }
            (None, None) => None,
        };
        let password = password
            .or_else(|| std::env::var(PASSWORD_VAR).ok())
            .filter(|p| !p.is_empty())
            .map(|p| Secret::new(p).with_origin(PASSWORD_VAR));
        let target = PostgresTarget {
            config,
            password,
            ssl,
            shown,
            ca_file: crate::client::ca_file_from_env(),
        };
        if origin == Origin::Plan {
            target.check_hosts(trust)?;
        }
        Ok(target)
    }

    /// Every host the connection may reach (hosts and `hostaddr`s) must be loopback, a Unix
    /// socket, or allowed by the run.
    fn check_hosts(&self, trust: &Trust) -> Result<(), StateError> {
        let mut hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        hosts.extend(self.config.get_hostaddrs().iter().map(|a| a.to_string()));
        if hosts.is_empty() {
            // tokio-postgres would connect to nothing; say so rather than fail later.
            return Err(StateError::InvalidUrl {
                detail: "it names no host".into(),
            });
        }
        for host in hosts {
            if !trust.allows_state_host(&host) {
                return Err(StateError::HostNotAllowed {
                    host: escaped(&host).into_owned(),
                    shown: self.shown.clone(),
                });
            }
        }
        Ok(())
    }

    /// The URL as shown: the password, if it held one, is `***`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.ssl
    }

    /// Whether a password will be sent (from the URL or `PGPASSWORD`).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The configuration to connect with, password included.
    pub(crate) fn connect_config(&self) -> postgres::Config {
        let mut config = self.config.clone();
        if let Some(password) = &self.password {
            config.password(password.expose());
        }
        config.ssl_mode(match self.ssl {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => postgres::config::SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config
    }

    /// TLS as the API client does it: rustls (ring), the bundled Mozilla roots, the operating
    /// system's store, and `NYLAS_MIGRATE_CA_FILE`.
    pub(crate) fn tls_config(&self) -> Result<rustls::ClientConfig, StateError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(path) = &self.ca_file {
            let pem = crate::client::read_ca_file(path).map_err(StateError::CaFile)?;
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| StateError::Tls {
                    detail: format!("{}: {e}", escaped(&path.display().to_string())),
                })?;
                roots.add(cert).map_err(|e| StateError::Tls {
                    detail: format!("{}: {e}", escaped(&path.display().to_string())),
                })?;
                added += 1;
            }
            if added == 0 {
                return Err(StateError::Tls {
                    detail: format!(
                        "{} holds no PEM certificate",
                        escaped(&path.display().to_string())
                    ),
                });
            }
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| StateError::Tls {
            detail: e.to_string(),
        })
    }
}

/// Why a state location cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    #[error("the --state URL {shown} holds a password")]
    #[diagnostic(
        code("state::password-on-command-line"),
        help(
            "a command line is seen by other users of the machine and kept in shell histories and CI logs: give the password in PGPASSWORD, or the whole URL through the plan's `state.postgres.url` secret reference"
        )
    )]
    PasswordOnCommandLine { shown: String },
    #[error("the PostgreSQL state URL is not valid: {detail}")]
    #[diagnostic(
        code("state::invalid-url"),
        help("write postgres://USER@HOST[:PORT]/DATABASE[?sslmode=verify-full]")
    )]
    InvalidUrl { detail: String },
    #[error(
        "the PostgreSQL state URL asks for sslmode={mode}, which nylas-migrate does not support"
    )]
    #[diagnostic(
        code("state::sslmode"),
        help(
            "use sslmode=disable, prefer, require or verify-full; every TLS connection's certificate is verified (chain and host name), and NYLAS_MIGRATE_CA_FILE adds a private CA"
        )
    )]
    SslMode { mode: String },
    #[error("the plan's PostgreSQL state URL {shown} points at `{host}`, not a loopback address")]
    #[diagnostic(
        code("state::host-not-allowed"),
        help(
            "a plan cannot choose where its state goes (the database password goes there, and its journal decides what a run skips). If `{host}` is your state database, allow it outside the plan: `--allow-state-host {host}` or {}={host} in the environment of the run",
            ALLOW_STATE_HOSTS_VAR
        )
    )]
    HostNotAllowed { host: String, shown: String },
    #[error("cannot read the PostgreSQL state URL (the plan's `state.postgres.url`): {reason}")]
    #[diagnostic(code("state::url-unreadable"), help("{help}"))]
    Secret { reason: String, help: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    CaFile(crate::client::ClientError),
    #[error("cannot set up TLS for the PostgreSQL state: {detail}")]
    #[diagnostic(
        code("state::tls"),
        help("check NYLAS_MIGRATE_CA_FILE names a PEM file of CA certificates")
    )]
    Tls { detail: String },
}

impl StateError {
    fn from_secret(err: SecretError) -> StateError {
        let help = miette::Diagnostic::help(&err)
            .map(|h| h.to_string())
            .unwrap_or_default();
        let reason = match &err {
            SecretError::MissingEnv { name, .. } => {
                format!("environment variable {name} is not set")
            }
            SecretError::EmptyEnv { name, .. } => format!("environment variable {name} is empty"),
            SecretError::NotUtf8Env { name, .. } => {
                format!("environment variable {name} is not valid UTF-8 text")
            }
            SecretError::File { path, reason, .. } => format!("file {path}: {reason}"),
        };
        StateError::Secret { reason, help }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(url: &str) -> Result<PostgresTarget, StateError> {
        PostgresTarget::from_flag(url)
    }

    fn plan(url: &str, trust: &Trust) -> Result<PostgresTarget, StateError> {
        PostgresTarget::from_secret(&Secret::new(url.into()), trust)
    }

    #[test]
    fn a_password_on_the_command_line_is_refused_without_showing_it() {
        for url in [
            "postgres://ci:hunter2canary@db.example.com/state",
            "postgresql://ci@db.example.com/state?password=hunter2canary",
        ] {
            let err = flag(url).unwrap_err();
            assert!(
                matches!(err, StateError::PasswordOnCommandLine { .. }),
                "{err:?}"
            );
            let shown = err.to_string();
            let text = format!("{shown} {:?}", miette::Report::new(err));
            assert!(!text.contains("hunter2canary"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
    }

    #[test]
    fn a_plan_url_keeps_its_password_apart_and_masks_it() {
        let trust = Trust::default();
        let target = plan(
            "postgres://ci:s3cr%40t@127.0.0.1:5433/state?sslmode=require&application_name=x",
            &trust,
        )
        .unwrap();
        assert_eq!(
            target.shown(),
            "postgres://ci:***@127.0.0.1:5433/state?sslmode=require&application_name=x"
        );
        assert!(!format!("{target:?}").contains("s3cr"));
        assert_eq!(target.ssl_mode(), SslMode::Require);
        assert_eq!(
            target.connect_config().get_password(),
            Some(&b"s3cr@t"[..]),
            "percent-decoded"
        );
        let q = plan(
            "postgres://ci@localhost/state?password=pw%21&sslmode=verify-full",
            &trust,
        )
        .unwrap();
        assert_eq!(q.connect_config().get_password(), Some(&b"pw!"[..]));
        assert!(q.shown().contains("password=***"), "{}", q.shown());
        assert_eq!(q.ssl_mode(), SslMode::VerifyFull);
    }

    #[test]
    fn hosts_a_plan_names_must_be_local_or_allowed() {
        let none = Trust::default();
        for url in [
            "postgres://ci@db.example.com/state",
            // A host or hostaddr parameter cannot slip past the check.
            "postgres://ci@127.0.0.1/state?host=db.example.com",
            "postgres://ci@localhost/state?hostaddr=10.1.2.3",
        ] {
            let err = plan(url, &none).unwrap_err();
            assert!(
                matches!(err, StateError::HostNotAllowed { .. }),
                "{url}: {err:?}"
            );
            let help = miette::Diagnostic::help(&err).unwrap().to_string();
            assert!(help.contains("--allow-state-host"), "{help}");
        }
        let allowed = Trust {
            state_hosts: vec!["db.example.com".into()],
            ..Trust::default()
        };
        assert!(plan("postgres://ci@db.example.com/state", &allowed).is_ok());
        assert!(plan("postgres://ci@%2Fvar%2Frun%2Fpostgresql/state", &none).is_ok());
        // The runner typed the command line: its host needs no opt-in.
        assert!(flag("postgres://ci@db.example.com/state").is_ok());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(matches!(
            flag("postgres://ci@localhost/state?sslmode=allow"),
            Err(StateError::SslMode { .. })
        ));
        assert!(matches!(
            flag("postgres://localhost/state"),
            Err(StateError::InvalidUrl { .. })
        ));
        assert!(matches!(
            flag("postgres://ci@localhost/state?no_such_option=1"),
            Err(StateError::InvalidUrl { .. })
        ));
        assert!(matches!(
            plan("mysql://ci@localhost/state", &Trust::default()),
            Err(StateError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn a_flag_is_a_folder_unless_it_is_a_url() {
        let source = SecretSource::new(".");
        let trust = Trust::default();
        let folder = StateLocation::resolve(
            Some(Path::new("postgres-state")),
            None,
            PathBuf::from("default"),
            &source,
            &trust,
        )
        .unwrap();
        assert_eq!(folder.folder(), Some(Path::new("postgres-state")));
        let url = StateLocation::resolve(
            Some(Path::new("postgresql://ci@localhost:5432/state")),
            None,
            PathBuf::from("default"),
            &source,
            &trust,
        )
        .unwrap();
        assert_eq!(
            url.describe(),
            "PostgreSQL state postgresql://ci@localhost:5432/state"
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_a_tls_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let mut target = flag("postgres://ci@127.0.0.1/state?sslmode=require").unwrap();
        target.ca_file = Some(path);
        let err = target.tls_config().unwrap_err();
        assert!(matches!(err, StateError::Tls { .. }), "{err:?}");
        assert_eq!(
            miette::Diagnostic::code(&err).map(|c| c.to_string()),
            Some(crate::code::Code::StateTls.as_str().to_owned())
        );
    }
}
