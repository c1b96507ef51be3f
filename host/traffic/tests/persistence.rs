//! Embedded persistence: write and reload, unreadable files, and a real `kill -9`.
//!
//! The crash test re-runs this test binary as a child (`crash_child`, selected by an
//! environment variable) that admits requests at a steady pace and prints its count; the
//! parent SIGKILLs it and checks that the reloaded count lost at most the documented window.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portico_traffic::{
    ManualClock, Period, QuotaSettings, SystemClock, Traffic, TrafficConfig, Warning,
};
use time::macros::datetime;

fn config(dir: &Path, flush: Duration) -> TrafficConfig {
    TrafficConfig {
        data_dir: Some(dir.to_path_buf()),
        flush_interval: flush,
        ..TrafficConfig::default()
    }
}

const QUOTA: Option<QuotaSettings> = Some(QuotaSettings::new(1_000_000, Period::Month));

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(datetime!(2026-03-04 10:00 UTC)));
    {
        let (t, warnings) =
            Traffic::start(config(dir.path(), Duration::from_secs(3600)), clock.clone()).unwrap();
        assert!(warnings.is_empty());
        let q = t.quota("p", "k", Some(QuotaSettings::new(10, Period::Day)));
        for _ in 0..4 {
            assert!(t.admit(&[], Some(&q)).is_admitted());
        }
        t.extend_quota("p", "k", 2).await.unwrap();
        t.shutdown().await.unwrap();
    }
    assert!(dir.path().join("traffic/usage.json").exists());
    let (t, warnings) =
        Traffic::start(config(dir.path(), Duration::from_secs(3600)), clock.clone()).unwrap();
    assert!(warnings.is_empty());
    t.quota("p", "k", Some(QuotaSettings::new(10, Period::Day)));
    assert_eq!(t.quota_status("p", "k").unwrap().remaining, 8);
    let today = datetime!(2026-03-04 00:00 UTC).date();
    let usage = t.usage("p", today, today).await.unwrap();
    assert_eq!(usage.items["k"][0].used, 4);
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_background_task_flushes_without_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(datetime!(2026-03-04 10:00 UTC)));
    let (t, _) =
        Traffic::start(config(dir.path(), Duration::from_millis(20)), clock.clone()).unwrap();
    let q = t.quota("p", "k", QUOTA);
    for _ in 0..7 {
        assert!(t.admit(&[], Some(&q)).is_admitted());
    }
    let file = dir.path().join("traffic/usage.json");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains("\"spent\":7") {
            break;
        }
        assert!(Instant::now() < deadline, "not flushed: {text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(t); // no shutdown: like a crash right after a flush
    let (t, _) = Traffic::start(config(dir.path(), Duration::from_secs(3600)), clock).unwrap();
    t.quota("p", "k", QUOTA);
    assert_eq!(t.quota_status("p", "k").unwrap().spent, 7);
}

#[tokio::test]
async fn a_corrupt_file_is_moved_aside_and_the_core_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("traffic")).unwrap();
    let file = dir.path().join("traffic/usage.json");
    std::fs::write(
        &file,
        b"{\"version\":1,\"saved_at\":0,\"meters\":[{\"plan\":",
    )
    .unwrap();
    let clock = Arc::new(ManualClock::at(datetime!(2026-03-04 10:00 UTC)));
    let (t, warnings) =
        Traffic::start(config(dir.path(), Duration::from_secs(3600)), clock).unwrap();
    let [
        Warning::CorruptState {
            path,
            moved_to: Some(aside),
            error,
        },
    ] = warnings.as_slice()
    else {
        panic!("{warnings:?}");
    };
    println!("warning: {}", warnings[0]);
    assert_eq!(path, &file);
    assert!(aside.exists() && !file.exists(), "{error}");
    assert!(t.meters().is_empty());
    // The next flush writes a fresh, valid file.
    let q = t.quota("p", "k", QUOTA);
    assert!(t.admit(&[], Some(&q)).is_admitted());
    t.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"spent\":1"), "{text}");
}

const CHILD_ENV: &str = "PORTICO_TRAFFIC_CRASH_CHILD";
const CHILD_FLUSH: Duration = Duration::from_millis(100);

/// The child half of `kill_dash_nine_loses_at_most_one_flush_interval`.
#[test]
#[ignore = "run by kill_dash_nine_loses_at_most_one_flush_interval as a child process"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (t, _) = Traffic::start(
            config(Path::new(&dir), CHILD_FLUSH),
            Arc::new(SystemClock::new()),
        )
        .unwrap();
        let q = t.quota("p", "k", QUOTA);
        let mut out = std::io::stdout().lock();
        for n in 1u64.. {
            assert!(t.admit(&[], Some(&q)).is_admitted());
            use std::io::Write;
            writeln!(out, "admitted {n}").unwrap();
            out.flush().unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn kill_dash_nine_loses_at_most_one_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let mut last = 0u64;
    // Let it run through several flushes, then SIGKILL it mid-interval.
    while started.elapsed() < Duration::from_millis(1_250) {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(n) = line.strip_prefix("admitted ") {
                    last = n.parse().unwrap();
                }
            }
            _ => break,
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("admitted ") {
            last = n.parse().unwrap();
        }
    }
    assert!(last > 100, "the child admitted only {last}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (t, warnings) = Traffic::start(config(dir.path(), CHILD_FLUSH), Arc::new(SystemClock::new())).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        t.quota("p", "k", QUOTA);
        let saved = t.quota_status("p", "k").unwrap().spent as u64;
        // The child admits about one request per millisecond (a bit less: sleeps round up),
        // so one flush interval plus one write is ~100 admissions; allow 2.5 intervals.
        let window = (CHILD_FLUSH.as_millis() as u64) * 5 / 2;
        let lost = last.saturating_sub(saved);
        println!("child admitted {last} (last printed), reload shows {saved}: lost {lost} (allowed {window})");
        assert!(saved <= last + 1, "saved {saved} > admitted {last}");
        assert!(saved > 0);
        assert!(lost <= window, "lost {lost} > {window}");
    });
}
