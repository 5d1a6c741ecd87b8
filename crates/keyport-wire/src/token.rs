//! [`AccessToken`]: the access token in a `token.get` result, the one place where a token
//! crosses the socket.
//!
//! It serializes and deserializes as a plain JSON string, since handing the token to the
//! program that asked is the point of `token.get`. Everywhere else it hides: `Debug` prints
//! `[redacted]`, there is no `Display`, and reading it takes [`AccessToken::secret`]. This
//! crate avoids a `zeroize` dependency, so the buffer is overwritten on drop on a best-effort
//! basis only (copies made by the JSON parser or the socket buffers are out of reach anyway).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An OAuth access token on its way to the program that asked for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token text. Each call site is where the token leaves its wrapper: keep them few.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for AccessToken {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keeps the writes from being optimised away as dead stores before the free.
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_but_json_carries_the_token() {
        let token = AccessToken::new("ya29.hunter2");
        let shown = format!("{token:?} {:?}", Some(&token));
        assert_eq!(shown, "[redacted] Some([redacted])");
        assert_eq!(serde_json::to_string(&token).unwrap(), r#""ya29.hunter2""#);
        assert_eq!(serde_json::from_str::<AccessToken>(r#""ya29.hunter2""#).unwrap().secret(), "ya29.hunter2");
    }
}
