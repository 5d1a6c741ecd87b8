//! Secrets longer than one entry of the store holds, kept in several entries.
//!
//! Windows' Credential Manager keeps at most [`WINDOWS_CREDENTIAL_BLOB`] bytes per credential,
//! and the `keyring` crate's Windows store writes the secret as UTF-16, so about 1,280
//! characters: some providers' refresh tokens (and JWT access tokens) are longer.
//! [`ChunkedStore`] wraps a store with such a limit:
//!
//! - A secret that fits is kept under its key as `v1=SECRET`.
//! - A longer one is cut (on character boundaries) into chunks written under keys of their
//!   own, `KEY/chunk/GENERATION/I`, with a new random generation each time; then the entry
//!   under the key becomes the head, `v1#GENERATION:CHUNKS:CHARS`. Only then are the previous
//!   generation's chunks deleted.
//!
//! So a write replaces the secret at once, as readers see it: until the head is written they
//! read the old secret whole, afterwards the new one whole. A write that fails part way (the
//! keyring locked, the process killed) leaves the old secret readable: a rotated refresh
//! token's predecessor is never half overwritten. What a crash can leave behind are chunks
//! no head names (of the new generation before the head, of the old one after): unreadable
//! through Keyport, and in the same store as the secrets themselves.
//!
//! A value without the `v1` tag (written before this store wrapped the keyring, or by hand)
//! is read as the secret itself.

use super::{SecretKey, SecretStore, SecretStoreError};
use crate::secret::Secret;

/// The most bytes Windows' Credential Manager keeps in one credential
/// (`CRED_MAX_CREDENTIAL_BLOB_SIZE`).
pub const WINDOWS_CREDENTIAL_BLOB: usize = 2560;

const INLINE: &str = "v1=";
const HEAD: &str = "v1#";

/// How a store counts the size of what it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// UTF-8 bytes.
    Utf8Bytes,
    /// UTF-16 bytes, as the `keyring` crate's Windows store writes a secret.
    Utf16Bytes,
}

impl Measure {
    /// The size of `text` as the store counts it.
    pub fn size(self, text: &str) -> usize {
        match self {
            Self::Utf8Bytes => text.len(),
            Self::Utf16Bytes => text.encode_utf16().count() * 2,
        }
    }

    fn char_size(self, c: char) -> usize {
        match self {
            Self::Utf8Bytes => c.len_utf8(),
            Self::Utf16Bytes => c.len_utf16() * 2,
        }
    }
}

/// A [`SecretStore`] whose entries hold at most `limit` (as `measure` counts), holding
/// secrets of any length in several entries (see the module's documentation).
#[derive(Debug)]
pub struct ChunkedStore<S> {
    inner: S,
    limit: usize,
    measure: Measure,
}

/// The smallest entry limit accepted: room for a head, and for chunks worth the name.
pub const MIN_LIMIT: usize = 128;

impl<S: SecretStore> ChunkedStore<S> {
    /// Wraps `inner`, whose entries hold at most `limit` as `measure` counts. Panics below
    /// [`MIN_LIMIT`] (a programming error: the limits are constants of each platform).
    pub fn new(inner: S, limit: usize, measure: Measure) -> Self {
        assert!(limit >= MIN_LIMIT, "an entry limit of {limit} is too small to hold a chunk head");
        Self { inner, limit, measure }
    }

    /// For Windows' Credential Manager as the `keyring` crate writes to it.
    pub fn windows_credentials(inner: S) -> Self {
        Self::new(inner, WINDOWS_CREDENTIAL_BLOB, Measure::Utf16Bytes)
    }

    fn chunk_key(key: &SecretKey, generation: &str, index: usize) -> SecretKey {
        SecretKey(format!("{}/chunk/{generation}/{index}", key.as_str()))
    }

    /// Cuts `text` into pieces of at most `limit` each, on character boundaries.
    fn cut<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut pieces = Vec::new();
        let (mut start, mut size) = (0, 0);
        for (at, c) in text.char_indices() {
            let grows = self.measure.char_size(c);
            if size + grows > self.limit {
                pieces.push(&text[start..at]);
                (start, size) = (at, 0);
            }
            size += grows;
        }
        if start < text.len() {
            pieces.push(&text[start..]);
        }
        pieces
    }

    /// The chunks of the secret stored under `key` now, if it is chunked.
    fn chunks_now(&self, key: &SecretKey) -> Result<Option<Head>, SecretStoreError> {
        let Some(raw) = self.inner.get(key)? else { return Ok(None) };
        match Entry::parse(raw.expose()) {
            Ok(Entry::Chunked(head)) => Ok(Some(head)),
            _ => Ok(None),
        }
    }

    fn delete_chunks(&self, key: &SecretKey, head: &Head) {
        for index in 0..head.chunks {
            if let Err(err) = self.inner.delete(&Self::chunk_key(key, &head.generation, index)) {
                tracing::warn!(key = key.as_str(), index, %err, "a chunk of a replaced secret could not be deleted");
            }
        }
    }
}

/// A chunked secret's head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    generation: String,
    chunks: usize,
    chars: usize,
}

/// What is stored under a secret's key.
#[derive(Debug, PartialEq, Eq)]
enum Entry<'e> {
    Inline(&'e str),
    Chunked(Head),
    /// Untagged: the secret itself.
    Legacy(&'e str),
}

impl<'e> Entry<'e> {
    fn parse(raw: &'e str) -> Result<Self, String> {
        if let Some(secret) = raw.strip_prefix(INLINE) {
            return Ok(Self::Inline(secret));
        }
        let Some(head) = raw.strip_prefix(HEAD) else { return Ok(Self::Legacy(raw)) };
        let mut fields = head.split(':');
        let (Some(generation), Some(chunks), Some(chars), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err("a damaged chunk head".to_owned());
        };
        let number = |text: &str| text.parse::<usize>().map_err(|_| "a damaged chunk head".to_owned());
        let generation_ok = !generation.is_empty() && generation.bytes().all(|b| b.is_ascii_hexdigit());
        let (chunks, chars) = (number(chunks)?, number(chars)?);
        // A head never names more chunks than characters, nor absurdly many.
        if !generation_ok || chunks == 0 || chunks > chars || chunks > MAX_CHUNKS {
            return Err("a damaged chunk head".to_owned());
        }
        Ok(Self::Chunked(Head { generation: generation.to_owned(), chunks, chars }))
    }
}

/// The most chunks one secret may take: 256 chunks of a Windows credential are 320 KiB of
/// text, far beyond any token.
const MAX_CHUNKS: usize = 256;

fn damaged(key: &SecretKey, what: &str) -> SecretStoreError {
    SecretStoreError::Platform { detail: format!("the secret `{}` in the keyring is damaged: {what}", key.as_str()) }
}

impl<S: SecretStore> SecretStore for ChunkedStore<S> {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        let Some(raw) = self.inner.get(key)? else { return Ok(None) };
        let head = match Entry::parse(raw.expose()).map_err(|what| damaged(key, &what))? {
            Entry::Inline(secret) | Entry::Legacy(secret) => return Ok(Some(Secret::new(secret.to_owned()))),
            Entry::Chunked(head) => head,
        };
        let mut text = String::new();
        for index in 0..head.chunks {
            let chunk = self
                .inner
                .get(&Self::chunk_key(key, &head.generation, index))?
                .ok_or_else(|| damaged(key, &format!("chunk {} of {} is missing", index + 1, head.chunks)))?;
            text.push_str(chunk.expose());
        }
        if text.chars().count() != head.chars {
            return Err(damaged(key, "its chunks do not add up to its length"));
        }
        Ok(Some(Secret::new(text)))
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        let before = self.chunks_now(key)?;
        let inline = format!("{INLINE}{}", value.expose());
        if self.measure.size(&inline) <= self.limit {
            self.inner.set(key, &Secret::new(inline))?;
        } else {
            let generation = format!("{:016x}", rand::random::<u64>());
            let pieces = self.cut(value.expose());
            if pieces.len() > MAX_CHUNKS {
                return Err(SecretStoreError::Platform {
                    detail: format!("the secret `{}` is too long for the keyring", key.as_str()),
                });
            }
            for (index, piece) in pieces.iter().enumerate() {
                if let Err(err) =
                    self.inner.set(&Self::chunk_key(key, &generation, index), &Secret::new((*piece).to_owned()))
                {
                    // The old secret is untouched; the chunks written so far go.
                    let partial = Head { generation: generation.clone(), chunks: index, chars: 0 };
                    self.delete_chunks(key, &partial);
                    return Err(err);
                }
            }
            let head = format!("{HEAD}{generation}:{}:{}", pieces.len(), value.expose().chars().count());
            if let Err(err) = self.inner.set(key, &Secret::new(head)) {
                let written = Head { generation, chunks: pieces.len(), chars: 0 };
                self.delete_chunks(key, &written);
                return Err(err);
            }
        }
        if let Some(old) = before {
            self.delete_chunks(key, &old);
        }
        Ok(())
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        let before = self.chunks_now(key)?;
        self.inner.delete(key)?;
        if let Some(old) = before {
            self.delete_chunks(key, &old);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryStore;

    fn windows() -> ChunkedStore<MemoryStore> {
        ChunkedStore::windows_credentials(MemoryStore::with_entry_limit(WINDOWS_CREDENTIAL_BLOB, Measure::Utf16Bytes))
    }

    fn key() -> SecretKey {
        SecretKey::refresh_token("keyport", "work")
    }

    fn read(store: &ChunkedStore<MemoryStore>) -> Option<String> {
        store.get(&key()).unwrap().map(|s| s.expose().to_owned())
    }

    #[test]
    fn the_limit_is_real_in_the_memory_store() {
        let store = MemoryStore::with_entry_limit(WINDOWS_CREDENTIAL_BLOB, Measure::Utf16Bytes);
        assert!(store.set(&key(), &Secret::new("a".repeat(1280))).is_ok());
        assert!(store.set(&key(), &Secret::new("a".repeat(1281))).is_err(), "2,562 bytes as UTF-16");
    }

    #[test]
    fn short_and_long_secrets_read_back_the_same_and_each_entry_fits() {
        let store = windows();
        for text in [
            String::new(),
            "short".to_owned(),
            "a".repeat(1277),
            "a".repeat(1278),
            "x".repeat(10_000),
            "é€😀".repeat(900),
        ] {
            store.set(&key(), &Secret::new(text.clone())).unwrap();
            assert_eq!(read(&store).as_deref(), Some(text.as_str()), "{} chars", text.chars().count());
            for raw in store.inner.keys() {
                let value = store.inner.get_raw(&raw).unwrap();
                assert!(Measure::Utf16Bytes.size(&value) <= WINDOWS_CREDENTIAL_BLOB, "{raw}");
            }
        }
        // Only the last secret's entries are left: each write removed the previous chunks.
        let chunks = store.inner.keys().into_iter().filter(|k| k.contains("/chunk/")).count();
        assert_eq!(chunks, ("é€😀".repeat(900).encode_utf16().count() * 2).div_ceil(WINDOWS_CREDENTIAL_BLOB));
        store.delete(&key()).unwrap();
        assert!(store.inner.keys().is_empty(), "{:?}", store.inner.keys());
        assert_eq!(read(&store), None);
    }

    #[test]
    fn a_write_that_fails_part_way_leaves_the_old_secret_whole() {
        let store = windows();
        let old = "o".repeat(5_000);
        store.set(&key(), &Secret::new(old.clone())).unwrap();
        let keys_before = store.inner.keys();
        // The new secret takes 5 chunks and a head: fail at each of those writes in turn.
        for fail_at in 0..6 {
            store.inner.fail_writes_after(fail_at);
            assert!(store.set(&key(), &Secret::new("n".repeat(6_000))).is_err(), "failing at write {fail_at}");
            store.inner.fail_writes_after(usize::MAX);
            assert_eq!(read(&store).as_deref(), Some(old.as_str()), "failing at write {fail_at}");
            assert_eq!(store.inner.keys(), keys_before, "what the failed write wrote is gone (at {fail_at})");
        }
        store.set(&key(), &Secret::new("n".repeat(6_000))).unwrap();
        assert_eq!(read(&store), Some("n".repeat(6_000)));
    }

    #[test]
    fn untagged_values_are_read_as_they_are_and_damage_is_reported_not_guessed() {
        let store = windows();
        store.inner.set(&key(), &Secret::new("legacy-token".to_owned())).unwrap();
        assert_eq!(read(&store).as_deref(), Some("legacy-token"));

        store.set(&key(), &Secret::new("z".repeat(3_000))).unwrap();
        let head = store.inner.get_raw(key().as_str()).unwrap();
        let generation = head.strip_prefix(HEAD).unwrap().split(':').next().unwrap().to_owned();
        store.inner.delete(&ChunkedStore::<MemoryStore>::chunk_key(&key(), &generation, 1)).unwrap();
        let err = store.get(&key()).unwrap_err().to_string();
        assert!(err.contains("chunk 2 of 3 is missing") && !err.contains("zzz"), "{err}");

        for bad in ["v1#", "v1#xyz:1:1", "v1#ab:0:0", "v1#ab:5:2", "v1#ab:1", "v1#ab:1:1:1", "v1#ab:300:9999"] {
            store.inner.set(&key(), &Secret::new(bad.to_owned())).unwrap();
            assert!(store.get(&key()).unwrap_err().to_string().contains("damaged"), "{bad}");
        }
    }

    #[test]
    fn pieces_are_cut_on_character_boundaries_within_the_limit() {
        let store = ChunkedStore::new(MemoryStore::new(), MIN_LIMIT, Measure::Utf8Bytes);
        let text = "ab€😀".repeat(100);
        let pieces = store.cut(&text);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= MIN_LIMIT));
    }
}
