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
//!
//! A stored deployment runs the plugin versions it was made with (`Deployment::plugins`), not
//! the slots' current ones: [`StagedPlugins::pinned`] gives, per deployment, slots that hold
//! its versions and that no deploy swaps. A version is found among the slots' current and
//! earlier versions, the versions pinned already, or in `<data_dir>/plugins/<digest>.wasm`,
//! where every version the registry compiles is kept (so a rollback finds it after a
//! restart). A version found nowhere (a data directory from another node) is logged, and the
//! deployment runs the current version.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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

    fn swap_in(&self, version: Arc<Version>) {
        let old = self.current.swap(version);
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
    /// Per stored deployment (index-aligned with `Config::deployments`), the slots it runs.
    pinned: Vec<HashMap<String, Arc<Slot>>>,
    /// The versions the pinned slots hold, by plugin name and digest (one component can serve
    /// two plugins, compiled with different grants): the registry keeps them from the commit.
    kept: HashMap<(String, String), Arc<Version>>,
}

/// A new version of a live slot, and the declaration it was compiled from.
struct Swap {
    slot: Arc<Slot>,
    version: Arc<Version>,
    declared: PluginDef,
    file_digest: String,
}

impl StagedPlugins<'_> {
    /// The slots for the new snapshot, by plugin name.
    pub fn slots(&self) -> &HashMap<String, Arc<Slot>> {
        &self.slots
    }

    /// The slots each stored deployment runs, index-aligned with `Config::deployments`.
    pub fn pinned(&self) -> &[HashMap<String, Arc<Slot>>] {
        &self.pinned
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
        *self.registry.kept.lock().unwrap_or_else(|e| e.into_inner()) = self.kept;
    }
}

/// Every declared plugin.
pub struct Registry {
    runtime: Arc<rt::Runtime>,
    /// Slots by plugin name. Held briefly; never while compiling.
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// Versions that stored deployments run, by plugin name and digest.
    kept: Mutex<HashMap<(String, String), Arc<Version>>>,
    /// Where every compiled version's bytes are kept (`<data_dir>/plugins`), when the gateway
    /// has a data directory.
    versions_dir: Mutex<Option<PathBuf>>,
}

impl Registry {
    /// An empty registry over `runtime`.
    pub fn new(runtime: Arc<rt::Runtime>) -> Self {
        Self {
            runtime,
            slots: Mutex::default(),
            kept: Mutex::default(),
            versions_dir: Mutex::default(),
        }
    }

    /// Stages the declared plugins: reads every file and compiles the new ones and the changed
    /// ones, without touching a live slot. Returns what the new snapshot references, to
    /// [`StagedPlugins::commit`] once the snapshot is built; or every error (nothing changed
    /// then). `deployments` are the stored deployments the snapshot serves, whose plugin
    /// versions are pinned; `data_dir` is the gateway's. Reading and compiling block: call it
    /// off the async workers.
    pub fn stage(
        &self,
        defs: &[PluginDef],
        deployments: &[portico_config::Api],
        data_dir: Option<&Path>,
    ) -> Result<StagedPlugins<'_>, Vec<String>> {
        let versions_dir = data_dir.map(|d| d.join("plugins"));
        versions_dir.clone_into(&mut self.versions_dir.lock().unwrap_or_else(|e| e.into_inner()));
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
            keep_bytes(versions_dir.as_deref(), &file_digest, &bytes);
            let version = Arc::new(Version {
                plugin,
                digest: file_digest.clone(),
            });
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
                        current: ArcSwap::new(version),
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
        let mut kept = HashMap::new();
        let pinned = deployments
            .iter()
            .map(|d| self.pin(d, defs, &slots, &swaps, versions_dir.as_deref(), &mut kept))
            .collect();
        Ok(StagedPlugins {
            registry: self,
            slots,
            swaps,
            pinned,
            kept,
        })
    }

    /// The slots deployment `d` runs: `slots`, with each plugin it names at its version.
    fn pin(
        &self,
        d: &portico_config::Api,
        defs: &[PluginDef],
        slots: &HashMap<String, Arc<Slot>>,
        swaps: &[Swap],
        versions_dir: Option<&Path>,
        kept: &mut HashMap<(String, String), Arc<Version>>,
    ) -> HashMap<String, Arc<Slot>> {
        let mut out = slots.clone();
        for (name, digest) in &d.plugin_versions {
            let (Some(live), Some(def)) = (slots.get(name), defs.iter().find(|p| &p.name == name))
            else {
                continue;
            };
            let key = (name.clone(), digest.clone());
            let found = kept.get(&key).cloned().or_else(|| {
                let staged = swaps
                    .iter()
                    .filter(|s| Arc::ptr_eq(&s.slot, live))
                    .map(|s| Arc::clone(&s.version));
                let held = std::iter::once(live.current()).chain(
                    live.state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .history
                        .clone(),
                );
                let pinned = self
                    .kept
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&key)
                    .cloned();
                staged
                    .chain(held)
                    .chain(pinned)
                    .find(|v| v.digest == *digest)
                    .or_else(|| self.load_kept(def, digest, versions_dir))
            });
            let Some(version) = found else {
                tracing::warn!(
                    plugin = %name,
                    %digest,
                    deployment = %d.deployment_id,
                    "the plugin version of this deployment is not kept here; the deployment runs the current version"
                );
                continue;
            };
            kept.insert(key, Arc::clone(&version));
            out.insert(
                name.clone(),
                Arc::new(Slot {
                    name: name.clone(),
                    kind: live.kind,
                    current: ArcSwap::new(version),
                    state: Mutex::new(SlotState {
                        history: Vec::new(),
                        declared: def.clone(),
                        file_digest: digest.clone(),
                    }),
                }),
            );
        }
        out
    }

    /// Compiles the kept bytes of version `digest` of `def`, if they are there and whole.
    fn load_kept(
        &self,
        def: &PluginDef,
        digest: &str,
        versions_dir: Option<&Path>,
    ) -> Option<Arc<Version>> {
        let path = versions_dir?.join(format!("{digest}.wasm"));
        let bytes = std::fs::read(&path).ok()?;
        if self::digest(&bytes) != digest {
            tracing::warn!(path = %path.display(), "a kept plugin version does not match its digest; ignored");
            return None;
        }
        match self.runtime.load(&spec(def), &bytes) {
            Ok(plugin) => Some(Arc::new(Version {
                plugin,
                digest: digest.to_owned(),
            })),
            Err(e) => {
                tracing::warn!(plugin = %def.name, digest, "a kept plugin version does not load: {e}");
                None
            }
        }
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
        let dir = self
            .versions_dir
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        keep_bytes(dir.as_deref(), &digest, bytes);
        slot.swap_in(Arc::new(Version {
            plugin,
            digest: digest.clone(),
        }));
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

/// Keeps a compiled version's bytes as `<dir>/<digest>.wasm` (once: the name is the content),
/// so that a deployment made on it finds it after a restart. A failure is logged: the version
/// serves anyway.
fn keep_bytes(dir: Option<&Path>, digest: &str, bytes: &[u8]) {
    let Some(dir) = dir else {
        return;
    };
    let path = dir.join(format!("{digest}.wasm"));
    if path.is_file() {
        return;
    }
    if let Err(e) = portico_config::deploy::write_private(&path, bytes) {
        tracing::warn!("cannot keep a plugin version: {e}");
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
