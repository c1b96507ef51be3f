//! The epoch ticker: the thread that advances the engine's epoch, which is what interrupts
//! running guest code (a call's deadline, and the yields that keep a busy guest from holding
//! a worker). It ticks only while some guest code may run: every call holds a [`Running`]
//! guard from before its instance is created until its last export call returns, and when no
//! guard has been held for [`PARK_AFTER_IDLE_TICKS`] ticks in a row the thread parks. An idle
//! gateway, or one whose routes call no plugin, so wakes no thread 1 000 times a second.
//!
//! A call that finds no other call running wakes the thread if it is parked. The two sides
//! meet Dekker-style: the ticker says it is going to sleep, then looks at the count; a call
//! counts itself, then looks whether the ticker sleeps. With sequentially consistent atomics at
//! least one of them sees the other, so a call never runs with the ticker parked. The first
//! tick after a wake-up comes one tick later, as it would have had the ticker been running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

use crate::error::RuntimeError;

/// The ticker thread, and what it shares with the calls.
pub(crate) struct Ticker {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    /// Calls holding a [`Running`] guard.
    running: AtomicUsize,
    /// The thread has parked, or is about to (it looks at `running` once more first).
    asleep: AtomicBool,
    stop: AtomicBool,
}

impl Ticker {
    /// Starts the thread, advancing `engine`'s epoch every `tick` while a call runs.
    pub(crate) fn start(engine: Engine, tick: Duration) -> Result<Self, RuntimeError> {
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("portico-epoch".into())
            .spawn(move || shared.run(&engine, tick))
            .map_err(|e| RuntimeError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Self {
            state,
            thread: Some(thread),
        })
    }

    /// Marks guest code as possibly running until the guard is dropped.
    pub(crate) fn running(&self) -> Running<'_> {
        if self.state.running.fetch_add(1, SeqCst) == 0
            && self.state.asleep.load(SeqCst)
            && let Some(t) = &self.thread
        {
            t.thread().unpark();
        }
        Running(&self.state)
    }

    /// Whether the thread is parked (or about to be): for tests.
    #[cfg(test)]
    fn asleep(&self) -> bool {
        self.state.asleep.load(SeqCst)
    }
}

/// Ticks in a row that must find no call running before the ticker parks. Under load, calls
/// come and go between ticks, and a ticker that parked at every gap would be woken (a futex
/// call, a context switch) up to once per tick; a gap of this many ticks is idleness.
const PARK_AFTER_IDLE_TICKS: u32 = 100;

impl State {
    fn run(&self, engine: &Engine, tick: Duration) {
        let mut idle_ticks = 0;
        while !self.stop.load(SeqCst) {
            if self.running.load(SeqCst) != 0 {
                idle_ticks = 0;
            } else if idle_ticks < PARK_AFTER_IDLE_TICKS {
                idle_ticks += 1;
            } else {
                self.asleep.store(true, SeqCst);
                // Parked only if no call counted itself since: a call that did either is seen
                // here or sees `asleep` and unparks this thread.
                if self.running.load(SeqCst) == 0 && !self.stop.load(SeqCst) {
                    std::thread::park();
                }
                self.asleep.store(false, SeqCst);
                idle_ticks = 0;
                continue;
            }
            std::thread::sleep(tick);
            engine.increment_epoch();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.state.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Guest code may be running while this is held (see [`Ticker::running`]).
pub(crate) struct Running<'a>(&'a State);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(5), "{what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_ticker_parks_with_no_call_running_and_wakes_for_one() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).unwrap();
        let ticker = Ticker::start(engine.clone(), Duration::from_millis(1)).unwrap();
        wait_for("the ticker parks with no call running", || ticker.asleep());
        let guard = ticker.running();
        wait_for("a call wakes the ticker", || !ticker.asleep());
        // Asleep stays false while the guard is held, across many ticks.
        std::thread::sleep(Duration::from_millis(20));
        assert!(!ticker.asleep(), "the ticker slept while a call ran");
        drop(guard);
        wait_for("the ticker parks again", || ticker.asleep());
        // Many short calls from several threads: none ever finds the ticker parked for good.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..2_000 {
                        let _running = ticker.running();
                        std::hint::spin_loop();
                    }
                });
            }
        });
        let _running = ticker.running();
        wait_for("a call after many wakes the ticker", || !ticker.asleep());
    }
}
