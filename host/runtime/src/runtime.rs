//! The [`Runtime`]: one per process. It owns the wasmtime `Engine` (component model, async,
//! pooling allocator, epoch interruption), the epoch ticker thread, the artifact cache, the
//! key-value store, the outbound HTTP hook and the instance-slot semaphore; and it turns
//! component bytes into checked, pre-linked [`Plugin`]s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::cache::{ArtifactCache, sha256_hex};
use crate::cap::kv::KvStore;
use crate::cap::{config, http::HttpGrant};
use crate::error::{LoadError, RuntimeError};
use crate::host::{Shared, TABLE_ELEMENTS_LIMIT};
use crate::loader;
use crate::outbound::{AllowList, NoOutbound, OutboundHttp};
use crate::plugin::Plugin;
use crate::spec::{InstancePolicy, PluginSpec};
use crate::ticker::Ticker;

/// Core instances per component instance the pool provides for. A Rust component has 3–4
/// (the module, the WASI adapter, shims), componentize-js about 5, componentize-py about 10.
pub const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// Linear memories per component instance the pool provides for (each reserves address
/// space, see `docs/runtime.md`). Every fixture and toolchain we ship uses 1 or 2.
pub const MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables per component instance the pool provides for.
pub const TABLES_PER_COMPONENT: u32 = 8;
/// Bytes at the bottom of each linear memory that are reset with `memset` when an instance is
/// dropped (the rest with `madvise`). A lean Rust guest (32 KiB stack, `plugins/.cargo/config.toml`)
/// has one 64 KiB page of memory, and one built with a 64 KiB stack two, so the whole memory of
/// either fits; this is also the most RSS a free memory slot keeps (see `docs/runtime.md`).
const LINEAR_MEMORY_KEEP_RESIDENT: usize = 256 << 10;
/// The same for each table: a Rust guest's tables are under 4 KiB, componentize-js's about 60.
const TABLE_KEEP_RESIDENT: usize = 16 << 10;

/// How the runtime is set up. [`Default`] suits a gateway with no outbound HTTP; tests lower
/// `max_instances`.
#[derive(Clone)]
pub struct RuntimeOptions {
    /// Where precompiled artifacts are cached. `None`: compile on every load.
    pub cache_dir: Option<PathBuf>,
    /// The proxy's outbound HTTP client, for plugins granted `http_allow`.
    pub outbound: Arc<dyn OutboundHttp>,
    /// Instance slots in the pooling allocator: component instances alive at once (calls in
    /// flight plus idle reused instances). A call waits for a free slot within its deadline.
    /// Default 1000.
    pub max_instances: u32,
    /// The largest linear memory any instance may have; a plugin's `memory_limit_bytes` may
    /// not exceed it. Default 1 GiB.
    pub max_memory_bytes: usize,
    /// Bytes (keys + values) the key-value store holds before evicting. Default 64 MiB.
    pub kv_capacity_bytes: u64,
    /// Epoch tick: how often the ticker thread advances the epoch, i.e. the granularity of
    /// deadlines and of yields from running guests. Default 1 ms.
    pub epoch_tick: Duration,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            cache_dir: None,
            outbound: Arc::new(NoOutbound),
            max_instances: 1000,
            max_memory_bytes: 1 << 30,
            kv_capacity_bytes: 64 << 20,
            epoch_tick: Duration::from_millis(1),
        }
    }
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("cache_dir", &self.cache_dir)
            .field("max_instances", &self.max_instances)
            .field("max_memory_bytes", &self.max_memory_bytes)
            .field("kv_capacity_bytes", &self.kv_capacity_bytes)
            .field("epoch_tick", &self.epoch_tick)
            .finish_non_exhaustive()
    }
}

/// The plugin runtime of one process.
pub struct Runtime {
    pub(crate) engine: Engine,
    cache: ArtifactCache,
    kv: KvStore,
    outbound: Arc<dyn OutboundHttp>,
    max_memory_bytes: usize,
    /// One permit per pooling-allocator slot: a call that finds every slot taken waits here
    /// (within its deadline) instead of failing instantiation outright. Idle reused instances
    /// hold their permit.
    pub(crate) slots: Arc<Semaphore>,
    /// Advances the engine's epoch while a call runs.
    pub(crate) ticker: Ticker,
}

impl Runtime {
    /// Creates the engine and starts its epoch ticker.
    pub fn new(options: RuntimeOptions) -> Result<Arc<Self>, RuntimeError> {
        if options.max_instances == 0 {
            return Err(RuntimeError::Option(
                "max_instances must be at least 1".into(),
            ));
        }
        if options.epoch_tick.is_zero() {
            return Err(RuntimeError::Option("epoch_tick must not be zero".into()));
        }
        if let Some(dir) = &options.cache_dir {
            std::fs::create_dir_all(dir).map_err(|source| RuntimeError::CacheDir {
                path: dir.clone(),
                source,
            })?;
        }
        let config = engine_config(&options);
        let engine = Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let ticker = Ticker::start(engine.clone(), options.epoch_tick)?;
        Ok(Arc::new(Self {
            cache: ArtifactCache::new(options.cache_dir.clone(), &engine, compiler_config(config)),
            engine,
            kv: KvStore::new(options.kv_capacity_bytes),
            outbound: options.outbound,
            max_memory_bytes: options.max_memory_bytes,
            slots: Arc::new(Semaphore::new(options.max_instances as usize)),
            ticker,
        }))
    }

    /// Compiles `component_bytes` (or loads the cached artifact), checks the component against
    /// the world of `spec.kind` and against `spec.grants`, and pre-links it. Rejections are
    /// [`LoadError`]s with a message for the user; hostile bytes never panic.
    ///
    /// This blocks for as long as compiling takes (milliseconds for Rust components, seconds
    /// for JS and Python ones without a cached artifact): call it off the async workers, e.g.
    /// in `spawn_blocking`.
    pub fn load(
        self: &Arc<Self>,
        spec: &PluginSpec,
        component_bytes: &[u8],
    ) -> Result<Plugin, LoadError> {
        let shared = self.shared(spec)?;
        let digest = sha256_hex(component_bytes);
        let component = self
            .cache
            .component(&self.engine, &digest, component_bytes)
            .map_err(|detail| LoadError::Invalid {
                plugin: spec.name.clone(),
                detail,
            })?;
        let entry = loader::link(&self.engine, &component, spec)?;
        Ok(Plugin::new(
            self.clone(),
            spec,
            digest,
            Arc::new(shared),
            entry,
        ))
    }

    /// Checks the spec's limits and grants and prepares what every store shares.
    fn shared(&self, spec: &PluginSpec) -> Result<Shared, LoadError> {
        let invalid = |detail: String| LoadError::InvalidSpec {
            plugin: spec.name.clone(),
            detail,
        };
        if spec.memory_limit_bytes == 0 || spec.memory_limit_bytes > self.max_memory_bytes {
            return Err(invalid(format!(
                "memory limit {} bytes must be between 1 and {} bytes",
                spec.memory_limit_bytes, self.max_memory_bytes
            )));
        }
        if spec.timeout.is_zero() {
            return Err(invalid("timeout must not be zero".into()));
        }
        if let InstancePolicy::Reuse { max_uses: 0 } = spec.instances {
            return Err(invalid(
                "instance reuse needs max_uses of at least 1".into(),
            ));
        }
        let config = config::prepare(spec.grants.config.as_deref()).map_err(|detail| {
            LoadError::InvalidConfig {
                plugin: spec.name.clone(),
                detail,
            }
        })?;
        let allow = AllowList::parse(&spec.grants.http_allow).map_err(invalid)?;
        for p in &spec.grants.preopens {
            if !p.host_path.is_dir() {
                return Err(invalid(format!(
                    "preopen {} is not a directory",
                    p.host_path.display()
                )));
            }
            if p.guest_path.is_empty() {
                return Err(invalid(format!(
                    "preopen {} needs a guest path",
                    p.host_path.display()
                )));
            }
        }
        Ok(Shared {
            name: Arc::from(spec.name.as_str()),
            config,
            kv: spec.grants.kv.then(|| self.kv.namespace(&spec.name)),
            http: (!allow.is_empty()).then(|| HttpGrant {
                allow: Arc::new(allow),
                outbound: self.outbound.clone(),
            }),
            preopens: spec.grants.preopens.clone(),
            memory_limit: spec.memory_limit_bytes,
            timeout: spec.timeout,
        })
    }
}

/// What the instance pool holds right now, for gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Component instances alive (calls in flight plus idle reused instances).
    pub component_instances: u64,
    /// Core instances alive.
    pub core_instances: u64,
    /// Linear memories in use.
    pub memories: usize,
    /// Tables in use.
    pub tables: usize,
    /// Instance slots free (see [`RuntimeOptions::max_instances`]).
    pub free_slots: usize,
}

impl Runtime {
    /// Current use of the instance pool.
    pub fn pool_usage(&self) -> PoolUsage {
        let free_slots = self.slots.available_permits();
        match self.engine.pooling_allocator_metrics() {
            Some(m) => PoolUsage {
                component_instances: m.component_instances(),
                core_instances: m.core_instances(),
                memories: m.memories(),
                tables: m.tables(),
                free_slots,
            },
            None => PoolUsage {
                free_slots,
                ..PoolUsage::default()
            },
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("free_slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

/// The serving engine's settings for an engine that only compiles: no instance is ever made in
/// it, so it reserves no pool.
fn compiler_config(mut config: Config) -> Config {
    config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    config
}

/// The engine configuration; `docs/runtime.md` explains each choice.
fn engine_config(options: &RuntimeOptions) -> Config {
    let n = options.max_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(n.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_tables(n.saturating_mul(TABLES_PER_COMPONENT))
        .total_stacks(n)
        .max_memory_size(options.max_memory_bytes)
        .table_elements(TABLE_ELEMENTS_LIMIT)
        .max_core_instance_size(4 << 20)
        .max_component_instance_size(4 << 20)
        .max_tables_per_module(4)
        // Reset by memset, not madvise: an instance's memory and tables are zeroed (or restored
        // from the memory image) in place up to these sizes when it is dropped, so the pages
        // stay mapped. madvise(DONTNEED) on teardown makes the kernel flush every other CPU's
        // TLB (an IPI per call) and the next instance takes a page fault per page it touches.
        .linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT)
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        // Decommit at once (1 is wasmtime's default): with the keep-resident sizes above a lean
        // guest leaves nothing to madvise, and batching would only hold its slots back from
        // the next instance (which then starts on a cold slot).
        .decommit_batch_size(1);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .parallel_compilation(true)
        .cranelift_opt_level(OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiling_engine_makes_artifacts_the_serving_engine_loads() {
        let config = engine_config(&RuntimeOptions::default());
        let engine = Engine::new(&config).unwrap();
        let cache = ArtifactCache::new(None, &engine, compiler_config(config));
        assert!(
            cache.compiles_apart(),
            "the compiling engine's fingerprint differs"
        );
        // An empty component (the binary header only), compiled apart and loaded into the
        // serving engine.
        let empty = b"\0asm\x0d\0\x01\0";
        let component = cache.component(&engine, "empty", empty).unwrap();
        assert_eq!(component.component_type().exports(&engine).count(), 0);
    }
}
