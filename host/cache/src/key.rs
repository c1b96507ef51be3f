//! Cache keys: opaque bytes, hashed and compared in full, and the builder that makes them from
//! length-prefixed parts.

use std::fmt;
use std::sync::Arc;

/// A cache key: built by the caller from the deployment namespace, method, resource and key
/// parameters. The crate treats it as opaque bytes: it is hashed for lookup and compared in
/// full (two keys are equal only when their bytes are), never by hash alone.
///
/// The bytes sit behind an `Arc` so that the copies the store and the in-flight table keep
/// cost a reference count, not an allocation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(pub Arc<[u8]>);

impl CacheKey {
    /// A builder that appends length-prefixed parts.
    pub fn builder() -> KeyBuilder {
        KeyBuilder::default()
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes in the key (what the key adds to an entry's weight).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for CacheKey {
    fn from(bytes: &[u8]) -> Self {
        Self(Arc::from(bytes))
    }
}

impl From<Vec<u8>> for CacheKey {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Arc::from(bytes))
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are mostly text (paths, parameter values); show them as such.
        write!(f, "CacheKey({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// Appends length-prefixed parts so that `("ab", "c")` and `("a", "bc")` make different keys.
///
/// Each part is written as its length (unsigned LEB128: one byte below 128) followed by its
/// bytes. The encoding is prefix-free, so the part list can be read back from the key: two
/// different part lists never give the same bytes.
#[derive(Debug, Default, Clone)]
pub struct KeyBuilder {
    buf: Vec<u8>,
}

impl KeyBuilder {
    /// Appends one part.
    pub fn part(mut self, bytes: impl AsRef<[u8]>) -> Self {
        let bytes = bytes.as_ref();
        let mut len = bytes.len() as u64;
        loop {
            let low = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                self.buf.push(low);
                break;
            }
            self.buf.push(low | 0x80);
        }
        self.buf.extend_from_slice(bytes);
        self
    }

    /// The key.
    pub fn build(self) -> CacheKey {
        CacheKey(Arc::from(self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefix_separates_part_boundaries() {
        let ab_c = CacheKey::builder().part("ab").part("c").build();
        let a_bc = CacheKey::builder().part("a").part("bc").build();
        assert_ne!(ab_c, a_bc);
        assert_eq!(ab_c, CacheKey::builder().part("ab").part("c").build());
    }

    #[test]
    fn empty_parts_count() {
        let one = CacheKey::builder().part("a").build();
        let two = CacheKey::builder().part("a").part("").build();
        assert_ne!(one, two);
        assert_eq!(two.as_bytes(), &[1, b'a', 0]);
    }

    #[test]
    fn long_parts_use_multi_byte_lengths() {
        let part = vec![7u8; 300];
        let key = CacheKey::builder().part(&part).build();
        // 300 = 0b10_0101100: low seven bits with the continuation bit, then 2.
        assert_eq!(&key.as_bytes()[..2], &[0xac, 0x02]);
        assert_eq!(key.len(), 302);
    }
}
