//! The allocator (mimalloc, through its C entry points), and giving back what compiling
//! components leaves behind.
//!
//! mimalloc (v3) purges (returns to the OS) memory freed on a thread only `purge_delay` (1 s)
//! later, and only when that thread allocates again. wasmtime compiles a component's functions
//! on its parallel-compilation threads, which then sit idle: a first start with ten small Rust
//! plugins kept 50 MiB of the compiler's freed memory resident for good (benches/soak.sh, idle
//! phase, cold compile cache). [`purging_at_once`] purges immediately while the start-up build
//! runs, when no request is being served, then has each compiler thread collect its heap;
//! afterwards the delay is back, as the hot path wants it (purging every freed page at once
//! would add `madvise` calls to requests).

use libmimalloc_sys as mi;

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_e`, the same in v2 and v3;
/// libmimalloc-sys names no constant for it). The test below checks its v3 default, 1000 ms.
const PURGE_DELAY: mi::mi_option_t = 15;

/// The process-wide allocator: the proxy allocates and frees small buffers on every request
/// from several worker threads; glibc's malloc spent ~10 % of the CPU of a proxied request in
/// `malloc`/`free`.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// The alignment of every block `mi_malloc` returns: blocks come in multiples of the word size
/// (24-byte blocks exist, so 16 is not guaranteed).
const BLOCK_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc as the global allocator. Unlike the `mimalloc` crate's wrapper, which asks
/// `mi_malloc_aligned` for everything, a layout whose alignment every block has anyway (nearly
/// all of them) goes to the plain entry points, as Rust's `System` allocator does with
/// `malloc`: the aligned path's extra checks ran on each of the tens of allocations a request
/// makes (`benches/instructions.sh`).
struct MiMalloc;

// SAFETY: every method forwards to the mimalloc function with the same contract: `mi_malloc`
// and `mi_zalloc` return word-aligned blocks of at least `size` bytes (or null), so they serve
// alignments up to `BLOCK_ALIGN`; larger ones go to the `_aligned` variants; `mi_free` and
// `mi_realloc` accept any pointer mimalloc returned, aligned or not, and `mi_realloc` keeps the
// block's alignment only up to `BLOCK_ALIGN`, so larger ones use `mi_realloc_aligned`.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= BLOCK_ALIGN {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= BLOCK_ALIGN {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: see the impl; `ptr` came from this allocator.
        unsafe { mi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see the impl; `ptr` came from this allocator with `layout`.
        unsafe {
            if layout.align() <= BLOCK_ALIGN {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

/// Runs `f` with freed memory purged at once, then collects the heaps of rayon's threads and of
/// this thread.
#[allow(unsafe_code)]
pub fn purging_at_once<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: reading and setting an option and collecting the calling thread's heap are
    // plain calls into mimalloc, valid at any time from any thread.
    let delay = unsafe { mi::mi_option_get(PURGE_DELAY) };
    unsafe { mi::mi_option_set(PURGE_DELAY, 0) };
    let out = f();
    unsafe { mi::mi_option_set(PURGE_DELAY, delay) };
    // wasmtime compiles on rayon's global pool. A block a compiler thread allocated and another
    // thread freed waits on that thread's heap until it allocates again, which an idle pool
    // never does: each of its threads collects its own heap here.
    rayon::broadcast(|_| unsafe { mi::mi_collect(true) });
    unsafe { mi::mi_collect(true) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn blocks_have_the_alignment_their_layout_asks_for() {
        // Sizes around mimalloc's bins, with each alignment up to a page; grown and shrunk.
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in [1, 7, 8, 9, 16, 24, 40, 100, 1000, 5000, 70_000] {
                let layout = std::alloc::Layout::from_size_align(size, align).unwrap();
                let mut v: Vec<std::ptr::NonNull<u8>> = Vec::new();
                for _ in 0..4 {
                    // SAFETY: a non-zero-sized layout; the block is freed below.
                    let p = unsafe { std::alloc::alloc(layout) };
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    v.push(std::ptr::NonNull::new(p).unwrap());
                }
                for p in v {
                    // SAFETY: `p` was allocated above with `layout`, and is freed once.
                    let q = unsafe { std::alloc::realloc(p.as_ptr(), layout, size * 3) };
                    assert_eq!(q as usize % align, 0, "grown: size {size} align {align}");
                    let grown = std::alloc::Layout::from_size_align(size * 3, align).unwrap();
                    // SAFETY: `q` is the grown block.
                    unsafe { std::alloc::dealloc(q, grown) };
                }
                // SAFETY: as above.
                let z = unsafe { std::alloc::alloc_zeroed(layout) };
                assert_eq!(z as usize % align, 0);
                // SAFETY: `z` holds `size` zeroed bytes.
                assert!(
                    unsafe { std::slice::from_raw_parts(z, size) }
                        .iter()
                        .all(|&b| b == 0)
                );
                // SAFETY: allocated above with `layout`.
                unsafe { std::alloc::dealloc(z, layout) };
            }
        }
    }

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
