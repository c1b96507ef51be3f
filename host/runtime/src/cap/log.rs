//! `portico:plugin/log`: a guest's log lines, written through `tracing` under the target
//! `portico::plugin` with the plugin's name and the request id. Lines are capped in length and
//! in number per call, so that a chatty or hostile guest cannot flood the gateway's log.

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::caps::portico::plugin::log::{self, Level};
use crate::host::Host;

/// Longest line kept, in bytes; longer lines are cut at a character boundary.
const MAX_LINE: usize = 4096;

impl log::Host for Host {
    fn write(&mut self, level: Level, message: String) {
        if self.call.log_budget == 0 {
            self.call.log_dropped += 1;
            return;
        }
        self.call.log_budget -= 1;
        let message = truncate(&message, MAX_LINE);
        let plugin = &*self.shared.name;
        let request_id = self.call.request_id.as_str();
        match level {
            Level::Debug => {
                tracing::debug!(target: "portico::plugin", plugin, request_id, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "portico::plugin", plugin, request_id, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "portico::plugin", plugin, request_id, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "portico::plugin", plugin, request_id, "{message}")
            }
        }
    }
}

/// Reports lines dropped in the call that just ended, if any.
pub(crate) fn report_dropped(host: &Host) {
    if host.call.log_dropped > 0 {
        tracing::warn!(
            target: "portico::plugin",
            plugin = &*host.shared.name,
            request_id = host.call.request_id.as_str(),
            dropped = host.call.log_dropped,
            "plugin wrote more log lines than allowed per call; the rest were dropped"
        );
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Links `portico:plugin/log`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    log::add_to_linker::<Host, HasSelf<Host>>(linker, |h| h)
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(super::truncate("héllo", 2), "h");
        assert_eq!(super::truncate("héllo", 3), "hé");
        assert_eq!(super::truncate("abc", 10), "abc");
    }
}
