//! Which CPU each data-plane worker is bound to (`worker_cpu_affinity`).
//!
//! Worker `i` goes to the `i`-th CPU of the process's affinity mask (all CPUs, or what
//! `taskset` or a cpuset allows), round robin. `auto` binds only when there is exactly one
//! worker per allowed CPU, which is what thread-per-core means: with fewer workers (`workers`
//! set lower, or a CPU quota that makes the default lower) a bound worker could not move to a
//! CPU left idle, and with more, two would share one CPU while another idles.
//!
//! Binding matters most on a small machine shared with other busy processes (the load
//! generator and the upstream in `benches/load.sh`): left free, the scheduler keeps moving the
//! workers between CPUs, and each request's wake-ups and cache misses cost more.

use portico_config::WorkerAffinity;

/// The CPU for each of `workers` workers under `mode`; `None` leaves a worker unbound.
pub(super) fn plan(mode: WorkerAffinity, workers: usize) -> Vec<Option<usize>> {
    let allowed = match mode {
        WorkerAffinity::Off => Vec::new(),
        WorkerAffinity::Auto | WorkerAffinity::On => allowed_cpus(),
    };
    assign(mode, workers, &allowed)
}

/// [`plan`] for a known set of allowed CPUs.
fn assign(mode: WorkerAffinity, workers: usize, allowed: &[usize]) -> Vec<Option<usize>> {
    let bind = match mode {
        WorkerAffinity::Off => false,
        WorkerAffinity::On => !allowed.is_empty(),
        WorkerAffinity::Auto => workers > 1 && workers == allowed.len(),
    };
    (0..workers)
        .map(|i| bind.then(|| allowed[i % allowed.len()]))
        .collect()
}

/// The CPUs this process may run on, in ascending order (none where that cannot be known).
#[cfg(target_os = "linux")]
fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&cpu| set.is_set(cpu))
            .collect(),
        Err(e) => {
            tracing::warn!("cannot read the CPU affinity mask ({e}); workers stay unbound");
            Vec::new()
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn allowed_cpus() -> Vec<usize> {
    Vec::new()
}

/// Binds the calling thread (worker `index`) to `cpu`. A failure is logged and the worker runs
/// unbound: serving matters more than where.
#[cfg(target_os = "linux")]
pub(super) fn bind_current(index: usize, cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    match rustix::thread::sched_setaffinity(None, &set) {
        Ok(()) => tracing::debug!(worker = index, cpu, "worker bound to its CPU"),
        Err(e) => tracing::warn!(
            worker = index,
            cpu,
            "cannot bind the worker to its CPU: {e}"
        ),
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn bind_current(_index: usize, _cpu: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_binds_only_one_worker_per_allowed_cpu() {
        let cpus = [2, 3, 5];
        assert_eq!(
            assign(WorkerAffinity::Auto, 3, &cpus),
            [Some(2), Some(3), Some(5)]
        );
        assert_eq!(assign(WorkerAffinity::Auto, 2, &cpus), [None, None]);
        assert_eq!(assign(WorkerAffinity::Auto, 4, &cpus), [None; 4]);
        // One worker on one CPU gains nothing from binding and loses the CPU if it is busy.
        assert_eq!(assign(WorkerAffinity::Auto, 1, &[0]), [None]);
    }

    #[test]
    fn on_binds_round_robin_and_off_never() {
        assert_eq!(
            assign(WorkerAffinity::On, 3, &[0, 1]),
            [Some(0), Some(1), Some(0)]
        );
        assert_eq!(assign(WorkerAffinity::On, 2, &[]), [None, None]);
        assert_eq!(assign(WorkerAffinity::Off, 2, &[0, 1]), [None, None]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_allowed_cpus_are_at_least_those_the_runtime_counts() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        assert!(allowed.len() >= std::thread::available_parallelism().unwrap().get());
    }
}
