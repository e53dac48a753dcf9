//! How a call to the PostgreSQL state fails, and how that is told as a [`JournalError`].

use std::sync::Arc;

use crate::state::journal::{JournalError, PostgresTarget, StateError, StepRecord, UnknownValue};

/// Why a call failed, before it is told as a [`JournalError`].
pub(super) enum Failure {
    Pg(postgres::Error),
    /// A batch's error, told to each of its writers.
    Shared(Arc<postgres::Error>),
    Setup(StateError),
    /// The schema is newer: `(found, known)`.
    Newer(i32, i32),
    Unknown(UnknownValue),
    /// The connection's thread is gone (it panicked).
    Gone,
    /// A fenced write found that this runner no longer holds the lock (its session ended, or
    /// another runner took a newer epoch): nothing was written.
    LockLost(String),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Pg(e)
    }
}

impl Failure {
    /// The same failure told to another writer or reader of a group: a database error shared,
    /// the others copied (`Pg` is told as [`Failure::Shared`] before it is told again).
    pub(super) fn again(&self) -> Failure {
        match self {
            Failure::Shared(e) => Failure::Shared(e.clone()),
            Failure::LockLost(why) => Failure::LockLost(why.clone()),
            Failure::Unknown(u) => Failure::Unknown(UnknownValue {
                what: u.what,
                value: u.value.clone(),
            }),
            Failure::Newer(found, known) => Failure::Newer(*found, *known),
            Failure::Pg(_) | Failure::Setup(_) | Failure::Gone => Failure::Gone,
        }
    }

    pub(super) fn into_journal(self, location: &str) -> JournalError {
        let location = location.to_owned();
        match self {
            Failure::Pg(e) => JournalError::Postgres {
                location,
                help: help_for(&e).to_owned(),
                detail: crate::untrusted::escaped(&chain(&e)).into_owned(),
            },
            Failure::Shared(e) => JournalError::Postgres {
                location,
                help: help_for(&e).to_owned(),
                detail: crate::untrusted::escaped(&chain(&e)).into_owned(),
            },
            Failure::Setup(e) => JournalError::Postgres {
                location,
                help: miette::Diagnostic::help(&e)
                    .map(|h| h.to_string())
                    .unwrap_or_default(),
                detail: e.to_string(),
            },
            Failure::Newer(found, known) => JournalError::NewerSchema {
                location: format!("PostgreSQL state {location}"),
                found,
                known,
            },
            Failure::Unknown(unknown) => JournalError::Unknown {
                path: location,
                what: unknown.what,
                value: unknown.value,
            },
            Failure::Gone => JournalError::Postgres {
                location,
                detail: "the connection's thread stopped".into(),
                help: "this is a bug in nylas-migrate; the journal keeps what was done".into(),
            },
            Failure::LockLost(why) => JournalError::LockLost { location, why },
        }
    }
}

/// An error with its causes (the client's errors name their cause only as a source):
/// `error connecting to server: Connection refused (os error 111)`,
/// `db error: ERROR: permission denied for database state`.
pub(super) fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What to do about a PostgreSQL error.
fn help_for(e: &postgres::Error) -> &'static str {
    use postgres::error::SqlState;
    match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            "check the user and the password (PGPASSWORD, or the URL the plan's `state.postgres.url` names)"
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            "the first run creates the schema nylas_migrate, which needs CREATE on the database (or have its owner create the schema and grant it); later runs need to read and write its tables"
        }
        Some(c) if *c == SqlState::UNDEFINED_DATABASE => {
            "create the database first (CREATE DATABASE …): nylas-migrate creates its schema in it, not the database"
        }
        Some(_) => "the journal keeps what was committed; run again once the database is fixed",
        None => {
            "check the host and port, that the server accepts connections from this machine, and sslmode (a TLS certificate is verified against the system's roots, the bundled Mozilla roots and NYLAS_MIGRATE_CA_FILE)"
        }
    }
}

/// `postgres://ci@db/state (plan `acme`)`: the location errors name.
pub(super) fn describe(target: &PostgresTarget, plan: &str) -> String {
    format!(
        "{} (plan `{}`)",
        target.shown(),
        crate::untrusted::escaped(plan)
    )
}

/// A typed value read back: one this version does not know is an error, never a default.
pub(super) fn typed<T>(
    text: &str,
    what: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, Failure> {
    parse(text).ok_or_else(|| {
        Failure::Unknown(UnknownValue {
            what,
            value: format!("\"{}\"", crate::untrusted::esc(text)),
        })
    })
}

pub(super) fn parse_record(text: &str) -> Result<StepRecord, Failure> {
    serde_json::from_str(text).map_err(|e| {
        Failure::Unknown(UnknownValue {
            what: "step record",
            value: format!("({})", crate::untrusted::esc(&e.to_string())),
        })
    })
}
