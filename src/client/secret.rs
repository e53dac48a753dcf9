//! Secret values (API keys, v2 app secrets, webhook secrets) that must never reach output, logs,
//! the journal or an error message.

use std::fmt;

use zeroize::Zeroize;

/// A secret string. `Debug` and `Display` print a placeholder (and, if known, where the secret
/// came from, which is not secret); the value is zeroized when dropped. It deliberately does not
/// implement `Serialize`, so it cannot slip into the journal or a JSON report by accident.
#[derive(Clone)]
pub struct Secret {
    value: String,
    origin: Option<String>,
}

const REDACTED: &str = "[redacted]";

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret {
            value,
            origin: None,
        }
    }

    /// Records where the secret came from, e.g. `environment variable ACME_V2_SECRET`, so that
    /// an authentication error can tell the user which value to check.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Secret {
        self.origin = Some(origin.into());
        self
    }

    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The secret value. Callers must only pass it to the wire (a header or a body), never to a
    /// formatter.
    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "Secret({REDACTED}, from {origin})"),
            None => write!(f, "Secret({REDACTED})"),
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("hunter2-very-secret".to_owned()).with_origin("env X");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        assert!(!format!("{secret:#?}").contains("hunter2"));
        assert!(format!("{secret:?}").contains("env X"));
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }
}
