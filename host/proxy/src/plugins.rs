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
//!   changed gets a new version. A reload stages first ([`Registry::stage`]: every file read
//!   and compiled, no live slot touched) and deploys only when the whole snapshot has been
//!   built ([`StagedPlugins::commit`]); a reload that fails leaves every slot as it was;
//! - the admin API (`PUT /plugins/{name}`): the bytes are compiled and checked against the
//!   plugin's world and grants before the swap; a broken component is rejected and the current
//!   version keeps serving.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use portico_config::{InstancePolicy, PluginDef, PluginKind};
use portico_runtime as rt;

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

/// The plugins of one configuration build, compiled but not deployed: made by
/// [`Registry::stage`], applied by [`StagedPlugins::commit`], discarded by dropping.
#[must_use = "staged plugins change nothing until they are committed"]
pub struct StagedPlugins<'r> {
    registry: &'r Registry,
    /// Every declared plugin's slot, as the new snapshot references it: the live slot for an
    /// unchanged or changed plugin, a new one for a new plugin or a changed kind.
    slots: HashMap<String, Arc<Slot>>,
    /// New versions for live slots.
    swaps: Vec<Swap>,
}

/// A new version of a live slot, and the declaration it was compiled from.
struct Swap {
    slot: Arc<Slot>,
    version: Version,
    declared: PluginDef,
    file_digest: String,
}

impl StagedPlugins<'_> {
    /// The slots for the new snapshot, by plugin name.
    pub fn slots(&self) -> &HashMap<String, Arc<Slot>> {
        &self.slots
    }

    /// Deploys the staged versions into their live slots and makes the registry hold exactly
    /// the declared plugins (new slots added, undeclared ones dropped). Call only once the
    /// snapshot built on [`StagedPlugins::slots`] is ready to be swapped in.
    pub fn commit(self) {
        for swap in self.swaps {
            swap.slot.swap_in(swap.version);
            let mut st = swap.slot.state.lock().unwrap_or_else(|e| e.into_inner());
            st.declared = swap.declared;
            st.file_digest = swap.file_digest;
        }
        *self
            .registry
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = self.slots;
    }
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

    /// Stages the declared plugins: reads every file and compiles the new ones and the changed
    /// ones, without touching a live slot. Returns what the new snapshot references, to
    /// [`StagedPlugins::commit`] once the snapshot is built; or every error (nothing changed
    /// then). Reading and compiling block: call it off the async workers.
    pub fn stage(&self, defs: &[PluginDef]) -> Result<StagedPlugins<'_>, Vec<String>> {
        let mut errors = Vec::new();
        let mut slots = HashMap::with_capacity(defs.len());
        let mut swaps = Vec::new();
        // Compiling can take seconds: work on a copy, not under the lock.
        let live = self.slots.lock().unwrap_or_else(|e| e.into_inner()).clone();
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
            let file_digest = digest(&bytes);
            let existing = live.get(&def.name).filter(|s| s.kind == def.kind);
            if let Some(slot) = existing {
                let st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.declared == *def && st.file_digest == file_digest {
                    drop(st);
                    slots.insert(def.name.clone(), Arc::clone(slot));
                    continue;
                }
            }
            let plugin = match self.runtime.load(&spec(def), &bytes) {
                Ok(plugin) => plugin,
                Err(e) => {
                    errors.push(format!("plugin {} ({}): {e}", def.name, def.file.display()));
                    continue;
                }
            };
            let version = Version {
                plugin,
                digest: file_digest.clone(),
            };
            match existing {
                // The snapshot keeps the live slot; its version is swapped on commit, so the
                // old snapshot serves the current version until then.
                Some(slot) => {
                    slots.insert(def.name.clone(), Arc::clone(slot));
                    swaps.push(Swap {
                        slot: Arc::clone(slot),
                        version,
                        declared: def.clone(),
                        file_digest,
                    });
                }
                // A new slot (or one whose kind changed): only the new snapshot sees it, and the
                // registry lists it from the commit on.
                None => {
                    let slot = Slot {
                        name: def.name.clone(),
                        kind: def.kind,
                        current: ArcSwap::from_pointee(version),
                        state: Mutex::new(SlotState {
                            history: Vec::new(),
                            declared: def.clone(),
                            file_digest,
                        }),
                    };
                    slots.insert(def.name.clone(), Arc::new(slot));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(StagedPlugins {
            registry: self,
            slots,
            swaps,
        })
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
    portico_auth::sigv4::canonical::sha256_hex(bytes)
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
            PluginKind::TemplateMapper => rt::PluginKind::TemplateMapper,
            PluginKind::ModelValidator => rt::PluginKind::ModelValidator,
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
