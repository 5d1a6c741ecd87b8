//! What another program may have written in the keyring under Keyport's keys, read through
//! [`ChunkedStore`] (the store for keyrings that hold little per entry, such as Windows'
//! Credential Manager): a head or a secret under the key, and chunks under the keys a head
//! names.
//!
//! The input, split at NUL bytes (lossy UTF-8): the entry under the key, then the chunks, put
//! under the keys of the generation the entry names when it names one. Promises: reading never
//! panics; a chunked secret read whole has the length its head says; an error names no chunk's
//! text; and the input's first part, written as a secret through a store whose entries hold
//! 128 bytes of UTF-16, reads back the same, in entries that each fit.

use keyport_core::secret::Secret;
use keyport_core::secrets::{ChunkedStore, Measure, MemoryStore, SecretKey, SecretStore};

/// Heads and their parts.
pub const DICTIONARY: &[&[u8]] =
    &[b"v1=", b"v1#", b"00ff", b":1:", b":2:", b":256:", b"\0", b"\xf0\x9f\x98\x80", b"\xe2\x82\xac"];

const LIMIT: usize = 128;

fn key() -> SecretKey {
    SecretKey::refresh_token("fuzz", "work")
}

/// Runs one keyring state.
pub fn entry(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let head = parts.next().unwrap_or_default().to_owned();
    let chunks: Vec<&str> = parts.collect();

    let inner = MemoryStore::new();
    inner.set(&key(), &Secret::new(head.clone())).expect("an unlimited store");
    let generation = head.strip_prefix("v1#").and_then(|rest| rest.split(':').next()).unwrap_or("");
    for (index, chunk) in chunks.iter().enumerate() {
        let raw = format!("{}/chunk/{generation}/{index}", key().as_str());
        inner.set(&SecretKey::raw(&raw), &Secret::new((*chunk).to_owned())).expect("an unlimited store");
    }
    let store = ChunkedStore::new(inner, LIMIT, Measure::Utf16Bytes);
    let outcome = match store.get(&key()) {
        Ok(Some(secret)) => {
            if let Some(stated) = head.strip_prefix("v1#").and_then(|rest| rest.split(':').nth(2)) {
                let stated: usize = stated.parse().expect("a head read whole states a number");
                assert_eq!(secret.expose().chars().count(), stated, "a chunked secret of another length");
            }
            if head.starts_with("v1#") { "chunked" } else { "inline or untagged" }
        }
        Ok(None) => unreachable!("the entry was written"),
        Err(err) => {
            let message = err.to_string();
            for chunk in chunks.iter().filter(|c| c.len() >= 8) {
                assert!(!message.contains(*chunk), "an error shows a chunk: {message}");
            }
            "refused"
        }
    };

    // The first part as a secret: written through a small store, read back the same.
    let small =
        ChunkedStore::new(MemoryStore::with_entry_limit(LIMIT, Measure::Utf16Bytes), LIMIT, Measure::Utf16Bytes);
    match small.set(&key(), &Secret::new(head.clone())) {
        Ok(()) => {
            let back = small.get(&key()).expect("what was written reads").expect("it is there");
            assert_eq!(back.expose(), head, "the secret read back differs");
        }
        Err(err) => assert!(err.to_string().contains("too long"), "{err}"),
    }
    outcome.to_owned()
}
