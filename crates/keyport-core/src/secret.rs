//! A string that must never leak: tokens and client secrets.
//!
//! `Secret` prints `[redacted]` in `Debug`, has no `Display`, and does not implement
//! `Serialize`, so it cannot reach a log line, an error message or a JSON file by accident.
//! Reading it takes an explicit call to [`Secret::expose`]. The buffer is zeroed on drop.

use std::fmt;

use zeroize::Zeroize;

/// A secret string (access token, refresh token, client secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret text. Every call site is a place where the secret leaves its wrapper:
    /// keep them few and obvious.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::new("hunter2-token");
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(secret.expose(), "hunter2-token");
    }
}
