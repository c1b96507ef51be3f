//! Persistence in embedded mode. This module owns the on-disk snapshot of quota counters and
//! daily usage (`<data_dir>/traffic/usage.json`), how it is written and how it is loaded.
//!
//! # Durability
//!
//! A background task writes the snapshot every `flush_interval`
//! ([`crate::DEFAULT_FLUSH_INTERVAL`], 1 s) when something changed, and
//! [`crate::Traffic::shutdown`] writes a last one. Each write goes to `usage.json.tmp`, is
//! fsynced, renamed over `usage.json`, and the directory is fsynced: a crash (even `kill -9`
//! or power loss) leaves either the previous or the new snapshot, never a torn one.
//!
//! The **loss window** is therefore one flush interval plus the duration of one write: the
//! admissions counted after the last completed write are not on disk. Lost admissions make
//! quotas slightly more generous after a crash, never stricter. Token buckets are not
//! persisted: they refill within `burst / rate` seconds anyway.
//!
//! # Unreadable files
//!
//! A snapshot that cannot be parsed is renamed to `usage.json.corrupt-<unix secs>` and the
//! core starts empty with a [`Warning::CorruptState`]: losing usage history is better than
//! refusing to serve, and the bad file stays for inspection.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{TrafficError, Warning};
use crate::meter::Meters;
use crate::quota::Period;
use crate::usage::DayUsage;

/// Format version written in every snapshot.
const VERSION: u32 = 1;

/// The snapshot file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    version: u32,
    /// Unix seconds of the write.
    saved_at: i64,
    meters: Vec<MeterSnap>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeterSnap {
    plan: String,
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quota: Option<QuotaSnap>,
    /// `[day number, used, remaining or null]`.
    days: Vec<(i64, u64, Option<u64>)>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaSnap {
    period: Period,
    /// First day (days since 1970) of the counted period.
    period_day: u64,
    spent: i64,
    initial_day: u32,
}

/// Where the snapshot lives.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
    file: PathBuf,
    tmp: PathBuf,
}

impl Store {
    pub(crate) fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("traffic");
        Self {
            file: dir.join("usage.json"),
            tmp: dir.join("usage.json.tmp"),
            dir,
        }
    }

    /// The snapshot file.
    pub(crate) fn path(&self) -> &Path {
        &self.file
    }

    /// Loads the snapshot into `meters`. A missing file is an empty state; an unreadable one
    /// is moved aside and reported.
    pub(crate) fn load(&self, meters: &Meters, now: i64) -> Result<Option<Warning>, TrafficError> {
        fs::create_dir_all(&self.dir).map_err(|source| TrafficError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let bytes = match fs::read(&self.file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Ok(Some(self.set_aside(now, e.to_string()))),
        };
        let snapshot: Snapshot = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => return Ok(Some(self.set_aside(now, e.to_string()))),
        };
        if snapshot.version != VERSION {
            let error = format!("unknown version {}", snapshot.version);
            return Ok(Some(self.set_aside(now, error)));
        }
        for m in snapshot.meters {
            let handle = meters.entry(&m.plan, &m.key);
            if let Some(q) = m.quota {
                handle
                    .quota()
                    .restore(q.period, q.period_day, q.spent, q.initial_day);
            }
            for (day, used, remaining) in m.days {
                handle.usage().restore(day, DayUsage { used, remaining });
            }
            handle
                .0
                .changed
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(None)
    }

    fn set_aside(&self, now: i64, error: String) -> Warning {
        let aside = self.dir.join(format!("usage.json.corrupt-{now}"));
        let moved_to = fs::rename(&self.file, &aside).ok().map(|()| aside);
        let warning = Warning::CorruptState {
            path: self.file.clone(),
            moved_to,
            error,
        };
        tracing::warn!("{warning}");
        warning
    }

    /// Encodes the current state, or `None` when nothing changed since the last call (with
    /// `force`, always). Clears the change flags.
    pub(crate) fn encode(
        meters: &Meters,
        now: i64,
        force: bool,
    ) -> Result<Option<Vec<u8>>, TrafficError> {
        use std::sync::atomic::Ordering;
        let all = meters.all();
        let mut changed = false;
        for m in &all {
            changed |= m.0.changed.swap(false, Ordering::AcqRel);
        }
        if !changed && !force {
            return Ok(None);
        }
        let today = now.div_euclid(86_400);
        let snapshot = Snapshot {
            version: VERSION,
            saved_at: now,
            meters: all
                .iter()
                .map(|m| {
                    let (code, period_day, spent, initial_day) = m.quota().export();
                    let period = match code {
                        1 => Some(Period::Day),
                        2 => Some(Period::Week),
                        3 => Some(Period::Month),
                        _ => None,
                    };
                    MeterSnap {
                        plan: m.plan().to_owned(),
                        key: m.key().to_owned(),
                        quota: period.map(|period| QuotaSnap {
                            period,
                            period_day,
                            spent,
                            initial_day,
                        }),
                        days: m
                            .usage()
                            .recorded(today)
                            .into_iter()
                            .map(|(d, u)| (d, u.used, u.remaining))
                            .collect(),
                    }
                })
                .collect(),
        };
        Ok(Some(serde_json::to_vec(&snapshot)?))
    }

    /// Writes `bytes` atomically: temp file, fsync, rename, fsync of the directory.
    /// Blocking: run it on a blocking thread.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<(), TrafficError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TrafficError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let mut f = File::create(&self.tmp).map_err(io(&self.tmp))?;
        f.write_all(bytes).map_err(io(&self.tmp))?;
        f.sync_all().map_err(io(&self.tmp))?;
        drop(f);
        fs::rename(&self.tmp, &self.file).map_err(io(&self.file))?;
        // The rename is durable only once the directory entry is.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        Ok(())
    }
}
