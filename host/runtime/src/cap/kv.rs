//! `portico:plugin/kv`: a small key-value cache with a TTL per entry, private to the plugin
//! (keyed by plugin name, so a redeployed version keeps its predecessor's entries) and shared by
//! all its instances on this node.
//!
//! Backed by one `moka` cache per runtime, bounded in bytes (keys + values), with per-entry
//! expiry: moka is maintained, lock-free on reads, and evicts by TinyLFU when full, so a plugin
//! filling the cache cannot grow the gateway's memory. Limits: keys up to 1 KiB, values up to
//! 1 MiB, TTL up to 86 400 s. The WIT `set` returns nothing, so an oversized `set` is dropped
//! and logged; a TTL of 0 deletes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::caps::portico::plugin::kv;
use crate::host::Host;

/// Longest key, in bytes.
pub(crate) const MAX_KEY: usize = 1024;
/// Largest value, in bytes.
pub(crate) const MAX_VALUE: usize = 1 << 20;
/// Longest TTL (one day), as the WIT says.
pub(crate) const MAX_TTL_SECONDS: u32 = 86_400;

#[derive(Hash, PartialEq, Eq)]
struct Key {
    plugin: Arc<str>,
    key: String,
}

#[derive(Clone)]
struct Value {
    bytes: Bytes,
    ttl: Duration,
}

/// Expires each entry after its own TTL, counted from its last write.
struct PerEntryTtl;

impl Expiry<Key, Value> for PerEntryTtl {
    fn expire_after_create(&self, _key: &Key, value: &Value, _at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &Key,
        value: &Value,
        _at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The runtime-wide store behind every plugin's namespace.
#[derive(Clone)]
pub(crate) struct KvStore {
    cache: moka::sync::Cache<Key, Value>,
}

impl KvStore {
    /// A store holding at most `capacity_bytes` of keys and values.
    pub(crate) fn new(capacity_bytes: u64) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|k: &Key, v: &Value| {
                u32::try_from(k.key.len() + k.plugin.len() + v.bytes.len() + 64).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self { cache }
    }

    /// The namespace of one plugin.
    pub(crate) fn namespace(&self, plugin: &str) -> Namespace {
        Namespace {
            store: self.clone(),
            plugin: Arc::from(plugin),
        }
    }
}

/// One plugin's view of the store.
#[derive(Clone)]
pub(crate) struct Namespace {
    store: KvStore,
    plugin: Arc<str>,
}

impl Namespace {
    fn key(&self, key: String) -> Key {
        Key {
            plugin: self.plugin.clone(),
            key,
        }
    }

    /// The value under `key`, if set and not expired.
    pub(crate) fn get(&self, key: String) -> Option<Bytes> {
        if key.len() > MAX_KEY {
            return None;
        }
        self.store.cache.get(&self.key(key)).map(|v| v.bytes)
    }

    /// Stores `value` for `ttl_seconds` (capped at a day; 0 deletes). Returns false when the
    /// key or value is too large and nothing was stored.
    pub(crate) fn set(&self, key: String, value: Vec<u8>, ttl_seconds: u32) -> bool {
        if key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return false;
        }
        let key = self.key(key);
        if ttl_seconds == 0 {
            self.store.cache.invalidate(&key);
            return true;
        }
        let ttl = Duration::from_secs(u64::from(ttl_seconds.min(MAX_TTL_SECONDS)));
        self.store.cache.insert(
            key,
            Value {
                bytes: Bytes::from(value),
                ttl,
            },
        );
        true
    }

    /// Removes `key`.
    pub(crate) fn delete(&self, key: String) {
        if key.len() <= MAX_KEY {
            self.store.cache.invalidate(&self.key(key));
        }
    }
}

impl kv::Host for Host {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        let ns = self.shared.kv.as_ref()?;
        ns.get(key).map(Vec::from)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) {
        let Some(ns) = self.shared.kv.as_ref() else {
            return;
        };
        let (key_len, value_len) = (key.len(), value.len());
        if !ns.set(key, value, ttl_seconds) {
            tracing::warn!(
                target: "portico::plugin",
                plugin = &*self.shared.name,
                request_id = self.call.request_id.as_str(),
                key_len,
                value_len,
                "kv set dropped: keys are limited to {MAX_KEY} bytes, values to {MAX_VALUE} bytes"
            );
        }
    }

    fn delete(&mut self, key: String) {
        if let Some(ns) = self.shared.kv.as_ref() {
            ns.delete(key);
        }
    }
}

/// Links `portico:plugin/kv`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    kv::add_to_linker::<Host, HasSelf<Host>>(linker, |h| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_private() {
        let store = KvStore::new(1 << 20);
        let a = store.namespace("a");
        let b = store.namespace("b");
        assert!(a.set("k".into(), b"1".to_vec(), 60));
        assert_eq!(a.get("k".into()).as_deref(), Some(&b"1"[..]));
        assert_eq!(b.get("k".into()), None);
        a.delete("k".into());
        assert_eq!(a.get("k".into()), None);
    }

    #[test]
    fn limits_and_zero_ttl() {
        let ns = KvStore::new(1 << 20).namespace("p");
        assert!(!ns.set("k".repeat(MAX_KEY + 1), vec![], 60));
        assert!(!ns.set("k".into(), vec![0; MAX_VALUE + 1], 60));
        assert!(ns.set("k".into(), b"v".to_vec(), 60));
        assert!(ns.set("k".into(), b"v".to_vec(), 0));
        assert_eq!(ns.get("k".into()), None);
    }

    #[test]
    fn entries_expire() {
        let ns = KvStore::new(1 << 20).namespace("p");
        assert!(ns.set("k".into(), b"v".to_vec(), 1));
        assert!(ns.get("k".into()).is_some());
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(ns.get("k".into()), None);
    }
}
