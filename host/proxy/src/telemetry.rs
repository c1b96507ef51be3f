//! Metrics: API Gateway's CloudWatch metrics as Prometheus series.
//!
//! | AWS metric           | Prometheus series                                   |
//! |----------------------|-----------------------------------------------------|
//! | `Count`              | `portico_count_total`                               |
//! | `4XXError`           | `portico_4xx_error_total`                           |
//! | `5XXError`           | `portico_5xx_error_total`                           |
//! | `Latency`            | `portico_latency_milliseconds` (histogram)          |
//! | `IntegrationLatency` | `portico_integration_latency_milliseconds` (histogram) |
//! | `CacheHitCount`      | `portico_cache_hit_total`                           |
//! | `CacheMissCount`     | `portico_cache_miss_total`                          |
//!
//! All carry the labels `api`, `stage`, `resource` and `method`. Requests that match no route
//! are counted with empty `resource` and `method` (labels never come from the client, so a
//! hostile client cannot grow the series count).
//!
//! The registry lives outside the snapshot, so a reload resets nothing. Snapshots hold
//! [`RouteMetrics`] handles resolved at build time: the hot path increments atomics and never
//! looks a series up by name, and takes no lock (prometheus-client's own `Histogram` takes a
//! mutex on every observation; [`AtomicHistogram`] does not). Per-route counters and
//! histograms are sharded per worker ([`set_shard`]), so cores serving the same route never
//! write the same cache line; `/metrics` sums the shards.

pub mod access_log;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// The labels of every per-method series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// API name.
    pub api: String,
    /// Stage name.
    pub stage: String,
    /// Resource path, e.g. `/pets/{id}`.
    pub resource: String,
    /// Method, or `ANY`.
    pub method: String,
}

/// The labels of plugin fault counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    /// Plugin name.
    pub plugin: String,
    /// `trap`, `deadline`, `out_of_memory`, `bad_return`, `instantiate` or `overloaded`.
    pub fault: String,
}

/// Upper bounds of the latency buckets, in milliseconds: 0.5 ms .. 29 s (API Gateway's longest
/// integration timeout), then `+Inf`.
const LATENCY_BOUNDS_MS: [f64; 15] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    29000.0,
];

thread_local! {
    /// The shard this thread records per-route series into ([`set_shard`]).
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

/// How many shards each per-route series has: one per core, at most 8.
fn shard_count() -> usize {
    static COUNT: LazyLock<usize> =
        LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)));
    *COUNT
}

/// Makes the calling thread record per-route series into shard `index` (modulo the shard
/// count). Each data-plane worker calls it with its index when it starts; other threads use
/// shard 0.
pub fn set_shard(index: usize) {
    SHARD.with(|s| s.set(index % shard_count()));
}

fn shard() -> usize {
    SHARD.with(Cell::get)
}

/// Shards of one series: a worker writes only its own, so two cores serving the same route
/// never write the same cache line (each shard is `CachePadded`); the exposition sums them.
#[derive(Debug)]
struct Shards<T>(Arc<[CachePadded<T>]>);

impl<T> Clone for Shards<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: Default> Default for Shards<T> {
    fn default() -> Self {
        Self((0..shard_count()).map(|_| CachePadded::default()).collect())
    }
}

impl<T> Shards<T> {
    /// The calling thread's shard.
    fn mine(&self) -> &T {
        // `shard()` is below `shard_count()`, the length; `get` keeps a stray index harmless.
        let shards = &self.0;
        shards.get(shard()).unwrap_or(&shards[0])
    }

    fn all(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|p| &**p)
    }
}

/// A per-route counter, sharded per worker ([`Shards`]).
#[derive(Debug, Clone, Default)]
pub struct RouteCounter(Shards<AtomicU64>);

impl RouteCounter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.mine().fetch_add(1, Ordering::Relaxed);
    }

    /// The total over every shard.
    pub fn get(&self) -> u64 {
        self.0.all().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

impl TypedMetric for RouteCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for RouteCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A latency histogram on atomics: one relaxed `fetch_add` for the bucket hit and one for the
/// sum, no lock, into the recording worker's shard ([`Shards`]); the count is the buckets'
/// total. The sum is kept in nanoseconds (an `u64` holds 584 years of them). Reads during
/// writes may see a count and a sum from slightly different moments, as with any lock-free
/// exposition.
#[derive(Debug, Clone, Default)]
pub struct AtomicHistogram(Shards<HistogramCells>);

#[derive(Debug, Default)]
struct HistogramCells {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    buckets: [AtomicU64; LATENCY_BOUNDS_MS.len() + 1],
    sum_ns: AtomicU64,
}

impl AtomicHistogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        let bucket = LATENCY_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        let cells = self.0.mine();
        cells.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        cells.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets = [(0.0, 0u64); LATENCY_BOUNDS_MS.len() + 1];
        let mut sum_ns = 0u64;
        for cells in self.0.all() {
            for (slot, n) in buckets.iter_mut().zip(&cells.buckets) {
                slot.1 += n.load(Ordering::Relaxed);
            }
            sum_ns = sum_ns.saturating_add(cells.sum_ns.load(Ordering::Relaxed));
        }
        for (i, slot) in buckets.iter_mut().enumerate() {
            // prometheus-client prints f64::MAX as +Inf.
            slot.0 = LATENCY_BOUNDS_MS.get(i).copied().unwrap_or(f64::MAX);
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum_ms = sum_ns as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum_ms, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The process-wide metrics.
pub struct Metrics {
    /// The registry, behind a mutex only because encoding needs `&Registry` while
    /// [`Metrics::render`] may run concurrently with nothing else touching it.
    registry: Mutex<Registry>,
    count: Family<MethodLabels, RouteCounter>,
    e4: Family<MethodLabels, RouteCounter>,
    e5: Family<MethodLabels, RouteCounter>,
    latency: Family<MethodLabels, AtomicHistogram>,
    integration_latency: Family<MethodLabels, AtomicHistogram>,
    cache_hit: Family<MethodLabels, RouteCounter>,
    cache_miss: Family<MethodLabels, RouteCounter>,
    /// Reloads that succeeded.
    pub reloads_ok: Counter,
    /// Reloads rejected by validation.
    pub reloads_failed: Counter,
    /// Access-log lines dropped because the writer fell behind.
    pub access_log_dropped: Counter,
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: Counter,
    /// Plugin faults by plugin and kind.
    pub plugin_faults: Family<PluginLabels, Counter>,
    /// Every per-method label set registered, with the generation of the last snapshot build
    /// that asked for it, so that a reload can drop the series of removed routes. Locked only
    /// by snapshot builds and [`Metrics::retain`], never by requests.
    series: Mutex<std::collections::HashMap<MethodLabels, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every series.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portico");
        let count = Family::<MethodLabels, RouteCounter>::default();
        let e4 = Family::<MethodLabels, RouteCounter>::default();
        let e5 = Family::<MethodLabels, RouteCounter>::default();
        let latency = Family::<MethodLabels, AtomicHistogram>::default();
        let integration_latency = Family::<MethodLabels, AtomicHistogram>::default();
        let cache_hit = Family::<MethodLabels, RouteCounter>::default();
        let cache_miss = Family::<MethodLabels, RouteCounter>::default();
        registry.register(
            "cache_hit",
            "Requests served from the stage cache (AWS CacheHitCount)",
            cache_hit.clone(),
        );
        registry.register(
            "cache_miss",
            "Requests on cached methods served from the integration (AWS CacheMissCount)",
            cache_miss.clone(),
        );
        let reloads_ok = Counter::default();
        let reloads_failed = Counter::default();
        let access_log_dropped = Counter::default();
        let tls_handshake_failures = Counter::default();
        let plugin_faults = Family::<PluginLabels, Counter>::default();
        registry.register(
            "plugin_faults",
            "Plugin calls that trapped, ran past their deadline, ran out of memory or returned a malformed value",
            plugin_faults.clone(),
        );
        registry.register("count", "Requests (AWS Count)", count.clone());
        registry.register(
            "4xx_error",
            "Responses with a 4xx status (AWS 4XXError)",
            e4.clone(),
        );
        registry.register(
            "5xx_error",
            "Responses with a 5xx status (AWS 5XXError)",
            e5.clone(),
        );
        registry.register(
            "latency_milliseconds",
            "Time from request received to response sent (AWS Latency)",
            latency.clone(),
        );
        registry.register(
            "integration_latency_milliseconds",
            "Time spent waiting for the integration's response head (AWS IntegrationLatency)",
            integration_latency.clone(),
        );
        registry.register(
            "reloads_ok",
            "Configuration reloads applied",
            reloads_ok.clone(),
        );
        registry.register(
            "reloads_failed",
            "Configuration reloads rejected",
            reloads_failed.clone(),
        );
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed, timed out, or were refused (a client certificate missing or not trusted)",
            tls_handshake_failures.clone(),
        );
        registry.register(
            "access_log_dropped",
            "Access-log lines dropped because the writer fell behind",
            access_log_dropped.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            count,
            e4,
            e5,
            latency,
            integration_latency,
            cache_hit,
            cache_miss,
            reloads_ok,
            reloads_failed,
            access_log_dropped,
            tls_handshake_failures,
            plugin_faults,
            series: Mutex::default(),
        }
    }

    /// Resolves the handles for one (api, stage, resource, method), for the snapshot of
    /// `generation`.
    /// One `Arc` per route, so that a request's completion holds one reference, not seven.
    pub fn route(&self, labels: MethodLabels, generation: u64) -> Arc<RouteMetrics> {
        self.series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(labels.clone(), generation);
        Arc::new(RouteMetrics {
            count: self.count.get_or_create(&labels).clone(),
            e4: self.e4.get_or_create(&labels).clone(),
            e5: self.e5.get_or_create(&labels).clone(),
            latency: self.latency.get_or_create(&labels).clone(),
            integration_latency: self.integration_latency.get_or_create(&labels).clone(),
            cache_hit: self.cache_hit.get_or_create(&labels).clone(),
            cache_miss: self.cache_miss.get_or_create(&labels).clone(),
        })
    }

    /// Drops the per-method series no snapshot since `generation` asked for: called once
    /// snapshot `generation` serves, so a reload that removes routes removes their series
    /// (requests still finishing on the old snapshot record into handles no longer exported).
    pub fn retain(&self, generation: u64) {
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        series.retain(|labels, g| {
            if *g >= generation {
                return true;
            }
            self.count.remove(labels);
            self.e4.remove(labels);
            self.e5.remove(labels);
            self.latency.remove(labels);
            self.integration_latency.remove(labels);
            self.cache_hit.remove(labels);
            self.cache_miss.remove(labels);
            false
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// Pre-resolved series for one route in one stage.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    count: RouteCounter,
    e4: RouteCounter,
    e5: RouteCounter,
    latency: AtomicHistogram,
    integration_latency: AtomicHistogram,
    cache_hit: RouteCounter,
    cache_miss: RouteCounter,
}

impl RouteMetrics {
    /// Counts a cache lookup on a cached method: a hit, or a miss.
    pub fn cache_lookup(&self, hit: bool) {
        if hit {
            self.cache_hit.inc();
        } else {
            self.cache_miss.inc();
        }
    }

    /// Records a finished request.
    pub fn record(&self, status: u16, latency: Duration, integration: Option<Duration>) {
        self.count.inc();
        match status {
            400..=499 => {
                self.e4.inc();
            }
            500..=599 => {
                self.e5.inc();
            }
            _ => {}
        }
        self.latency.observe(latency);
        if let Some(d) = integration {
            self.integration_latency.observe(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_recorded_on_several_workers_add_up() {
        let metrics = Metrics::new();
        let labels = MethodLabels {
            api: "a".into(),
            stage: "s".into(),
            resource: "/r".into(),
            method: "GET".into(),
        };
        let route = metrics.route(labels, 1);
        std::thread::scope(|scope| {
            for worker in 0..3 {
                let route = &route;
                scope.spawn(move || {
                    set_shard(worker);
                    route.record(200, Duration::from_micros(300), None);
                    route.record(
                        503,
                        Duration::from_millis(3),
                        Some(Duration::from_millis(2)),
                    );
                });
            }
        });
        let text = metrics.render();
        let series = |name: &str| {
            let prefix = format!(r#"{name}{{api="a",stage="s",resource="/r",method="GET"}} "#);
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no {name} in\n{text}"))
                .to_owned()
        };
        assert_eq!(series("portico_count_total"), "6");
        assert_eq!(series("portico_5xx_error_total"), "3");
        assert_eq!(series("portico_latency_milliseconds_count"), "6");
        assert_eq!(series("portico_latency_milliseconds_sum"), "9.9");
        assert_eq!(
            series("portico_integration_latency_milliseconds_count"),
            "3"
        );
        let half_ms = r#"portico_latency_milliseconds_bucket{le="0.5",api="a",stage="s",resource="/r",method="GET"} 3"#;
        assert!(text.contains(half_ms), "{text}");
    }
}
