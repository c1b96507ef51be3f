//! The plugin registry: which component version each declared plugin runs, outside any
//! snapshot so that a reload or a deploy never interrupts the other.
//!
//! Each plugin has a [`Slot`]. A slot holds the version now serving in an `ArcSwap` and the
//! versions before it, for rollback. Snapshots hold `Arc<Slot>`s; a request loads the current
//! version once, when it reaches the plugin, and finishes on it even if a deploy swaps the slot
//! meanwhile.
//!
//! Versions come from two places:
//! - the gateway file: at start and on every reload, a slot whose file content (or declaration)
//!   changed gets a new version;
//! - the admin API (`PUT /plugins/{name}`): the bytes are compiled and checked against the
//!   plugin's world and grants before the swap; a broken component is rejected and the current
//!   version keeps serving.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use portico_config::{InstancePolicy, PluginDef, PluginKind};
use portico_runtime as rt;
use sha2::{Digest, Sha256};

/// Versions kept for rollback, per plugin.
const HISTORY: usize = 8;

/// One deployed version.
pub struct Version {
    /// The compiled, checked plugin.
    pub plugin: rt::Plugin,
    /// sha256 of the component bytes.
    pub digest: String,
}

/// A declared plugin and its versions.
pub struct Slot {
    /// The plugin's name.
    pub name: String,
    /// Its world.
    pub kind: PluginKind,
    /// The version now serving. Swapped whole by deploys and rollbacks.
    current: ArcSwap<Version>,
    /// Earlier versions, newest last; and the declaration + file digest last loaded from the
    /// gateway file (a reload only redeploys when one of them changed).
    state: Mutex<SlotState>,
}

struct SlotState {
    history: Vec<Arc<Version>>,
    declared: PluginDef,
    file_digest: String,
}

impl Slot {
    /// The version to run now.
    pub fn current(&self) -> Arc<Version> {
        self.current.load_full()
    }

    fn swap_in(&self, version: Version) {
        let old = self.current.swap(Arc::new(version));
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.history.push(old);
        if state.history.len() > HISTORY {
            state.history.remove(0);
        }
    }
}

/// Why a deploy or rollback failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// No plugin of that name is declared.
    #[error("no plugin named {0} is declared in the gateway file")]
    Unknown(String),
    /// The component was rejected; the current version keeps serving.
    #[error("{0}")]
    Rejected(String),
    /// Nothing to roll back to.
    #[error("plugin {0} has no earlier version")]
    NoHistory(String),
}

/// Every declared plugin.
pub struct Registry {
    runtime: Arc<rt::Runtime>,
    /// Slots by plugin name. Held briefly; never while compiling.
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Registry {
    /// An empty registry over `runtime`.
    pub fn new(runtime: Arc<rt::Runtime>) -> Self {
        Self {
            runtime,
            slots: Mutex::default(),
        }
    }

    /// Brings the registry in line with the declared plugins: loads new ones and changed
    /// files, keeps the rest. Returns the slots for the snapshot, or every error (nothing is
    /// swapped then).
    pub fn sync(&self, defs: &[PluginDef]) -> Result<HashMap<String, Arc<Slot>>, Vec<String>> {
        let mut errors = Vec::new();
        let mut staged: Vec<(PluginDef, String, Option<Version>)> = Vec::new();
        {
            // Compiling can take seconds: work on a copy, not under the lock.
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for def in defs {
                let bytes = match std::fs::read(&def.file) {
                    Ok(b) => b,
                    Err(e) => {
                        errors.push(format!(
                            "plugin {}: cannot read {}: {e}",
                            def.name,
                            def.file.display()
                        ));
                        continue;
                    }
                };
                let digest = digest(&bytes);
                let unchanged = slots.get(&def.name).is_some_and(|s| {
                    let st = s.state.lock().unwrap_or_else(|e| e.into_inner());
                    st.declared == *def && st.file_digest == digest && s.kind == def.kind
                });
                if unchanged {
                    staged.push((def.clone(), digest, None));
                    continue;
                }
                match self.runtime.load(&spec(def), &bytes) {
                    Ok(plugin) => staged.push((
                        def.clone(),
                        digest.clone(),
                        Some(Version { plugin, digest }),
                    )),
                    Err(e) => {
                        errors.push(format!("plugin {} ({}): {e}", def.name, def.file.display()))
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        for (def, file_digest, version) in staged {
            match (slots.get(&def.name), version) {
                (Some(slot), Some(v)) if slot.kind == def.kind => {
                    slot.swap_in(v);
                    let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                    st.declared = def;
                    st.file_digest = file_digest;
                }
                (Some(_), None) => {}
                (_, Some(v)) => {
                    let slot = Slot {
                        name: def.name.clone(),
                        kind: def.kind,
                        current: ArcSwap::from_pointee(v),
                        state: Mutex::new(SlotState {
                            history: Vec::new(),
                            declared: def.clone(),
                            file_digest,
                        }),
                    };
                    slots.insert(def.name.clone(), Arc::new(slot));
                }
                (None, None) => {}
            }
        }
        slots.retain(|name, _| defs.iter().any(|d| &d.name == name));
        Ok(slots.clone())
    }

    /// Compiles `bytes` as a new version of `name` and swaps it in.
    pub fn deploy(&self, name: &str, bytes: &[u8]) -> Result<String, DeployError> {
        let slot = self.slot(name)?;
        let def = slot
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .declared
            .clone();
        let plugin = self
            .runtime
            .load(&spec(&def), bytes)
            .map_err(|e| DeployError::Rejected(e.to_string()))?;
        let digest = digest(bytes);
        slot.swap_in(Version {
            plugin,
            digest: digest.clone(),
        });
        tracing::info!(plugin = name, %digest, "plugin deployed");
        Ok(digest)
    }

    /// Restores the version before the current one.
    pub fn rollback(&self, name: &str) -> Result<String, DeployError> {
        let slot = self.slot(name)?;
        let previous = slot
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .history
            .pop()
            .ok_or_else(|| DeployError::NoHistory(name.to_owned()))?;
        let digest = previous.digest.clone();
        slot.current.store(previous);
        tracing::info!(plugin = name, %digest, "plugin rolled back");
        Ok(digest)
    }

    /// Name, kind, current digest and number of earlier versions of every plugin.
    pub fn list(&self) -> Vec<(String, &'static str, String, usize)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = slots
            .values()
            .map(|s| {
                let history = s
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .history
                    .len();
                (
                    s.name.clone(),
                    s.kind.name(),
                    s.current().digest.clone(),
                    history,
                )
            })
            .collect();
        out.sort();
        out
    }

    fn slot(&self, name: &str) -> Result<Arc<Slot>, DeployError> {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| DeployError::Unknown(name.to_owned()))
    }
}

fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The runtime's view of a declaration.
fn spec(def: &PluginDef) -> rt::PluginSpec {
    rt::PluginSpec {
        name: def.name.clone(),
        kind: match def.kind {
            PluginKind::Authorizer => rt::PluginKind::Authorizer,
            PluginKind::Mapper => rt::PluginKind::Mapper,
            PluginKind::Validator => rt::PluginKind::Validator,
            PluginKind::Function => rt::PluginKind::Function,
        },
        grants: rt::Grants {
            log: def.log,
            config: def.config.clone(),
            kv: def.kv,
            http_allow: def.http_allow.clone(),
            preopens: def
                .preopens
                .iter()
                .map(|p| rt::Preopen {
                    host_path: p.host.clone(),
                    guest_path: p.guest.clone(),
                    read_only: p.read_only,
                })
                .collect(),
        },
        timeout: def.timeout,
        memory_limit_bytes: def.memory_bytes,
        instances: match def.instances {
            InstancePolicy::Fresh => rt::InstancePolicy::Fresh,
            InstancePolicy::Reuse { max_uses } => rt::InstancePolicy::Reuse { max_uses },
        },
    }
}
