//! The allocator (mimalloc), and giving back what compiling components leaves behind.
//!
//! mimalloc (v3) purges (returns to the OS) memory freed on a thread only `purge_delay` (1 s)
//! later, and only when that thread allocates again. wasmtime compiles a component's functions
//! on its parallel-compilation threads, which then sit idle: a first start with ten small Rust
//! plugins kept 50 MiB of the compiler's freed memory resident for good (benches/soak.sh, idle
//! phase, cold compile cache). [`purging_at_once`] purges immediately while the start-up build
//! runs, when no request is being served; afterwards the delay is back, as the hot path wants
//! it (purging every freed page at once would add `madvise` calls to requests).

use libmimalloc_sys as mi;

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_e`, the same in v2 and v3;
/// libmimalloc-sys names no constant for it). The test below checks its v3 default, 1000 ms.
const PURGE_DELAY: mi::mi_option_t = 15;

/// The process-wide allocator: the proxy allocates and frees small buffers on every request
/// from several worker threads; glibc's malloc spent ~10 % of the CPU of a proxied request in
/// `malloc`/`free`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs `f` with freed memory purged at once, then collects this thread's heap.
#[allow(unsafe_code)]
pub fn purging_at_once<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: reading and setting an option and collecting the calling thread's heap are
    // plain calls into mimalloc, valid at any time from any thread.
    let delay = unsafe { mi::mi_option_get(PURGE_DELAY) };
    unsafe { mi::mi_option_set(PURGE_DELAY, 0) };
    let out = f();
    unsafe {
        mi::mi_option_set(PURGE_DELAY, delay);
        mi::mi_collect(true);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_with_its_default_of_1000_ms() {
        // SAFETY: as in `purging_at_once`.
        assert_eq!(unsafe { mi::mi_option_get(PURGE_DELAY) }, 1000);
        assert_eq!(
            purging_at_once(|| unsafe { mi::mi_option_get(PURGE_DELAY) }),
            0
        );
        assert_eq!(unsafe { mi::mi_option_get(PURGE_DELAY) }, 1000);
    }
}
