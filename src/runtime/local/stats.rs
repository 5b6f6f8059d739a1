//! Per-version measurements of the traffic that passes through the proxy: every request's
//! latency and whether it failed (a 5xx answer or no answer), kept for a sliding window.
//! The `probe` metric source reads them: error rate, latency percentiles, throughput.
//!
//! Memory is bounded whatever the request rate, and recording is a few atomic operations
//! with no lock and no allocation, since it runs on the proxy's threads for every request:
//!
//! * the latest [`SAMPLES`] requests of each version (time, latency, error) in a ring of
//!   packed `AtomicU64`s, which the percentiles are computed from;
//! * per-[`TICK_MS`] counters of requests and errors over the last [`TICKS`] ticks, which
//!   count exactly when the window holds more requests than the ring does.
//!
//! While the window holds no more than [`SAMPLES`] requests (any rate up to hundreds per
//! second over the usual windows) everything is exact, from the samples. Beyond, `requests`,
//! `errors`, `error_rate` and `throughput` come from the counters (the window rounded to
//! whole ticks) and the percentiles from the latest [`SAMPLES`] requests of the window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::runtime::world::Track;

/// Samples kept per version: 512 KiB each.
const SAMPLES: usize = 1 << 16;
/// Width of a counter tick.
const TICK_MS: u64 = 100;
/// Counter ticks kept per version: 409.6 s, longer than any analysis window the runtime asks
/// for (at most 300 s).
const TICKS: usize = 4096;

/// A sample packed in 64 bits: bit 0 the error flag, bits 1–27 the latency in microseconds
/// (saturating at about 134 s), bits 28–63 the time in milliseconds since the `Stats` were
/// created, plus one so that zero is an empty slot (36 bits: two years).
const LATENCY_BITS: u32 = 27;
const LATENCY_MAX: u64 = (1 << LATENCY_BITS) - 1;
const TIME_SHIFT: u32 = LATENCY_BITS + 1;
const TIME_MAX: u64 = (1 << (64 - TIME_SHIFT)) - 1;

fn pack(at_ms: u64, latency_us: u64, error: bool) -> u64 {
    ((at_ms + 1).min(TIME_MAX) << TIME_SHIFT)
        | (latency_us.min(LATENCY_MAX) << 1)
        | u64::from(error)
}

/// `(time in ms, latency in µs, error)`, `None` for an empty slot.
fn unpack(v: u64) -> Option<(u64, u64, bool)> {
    let at = v >> TIME_SHIFT;
    (at != 0).then(|| (at - 1, (v >> 1) & LATENCY_MAX, v & 1 == 1))
}

/// A counter for one tick: the tick's number in the high 32 bits, the count in the low 32
/// bits. A slot still holding an older tick counts as zero for the newer one.
struct Counters {
    slots: Box<[AtomicU64]>,
}

impl Counters {
    fn new() -> Counters {
        Counters {
            slots: (0..TICKS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn add(&self, tick: u64) {
        let Some(slot) = self.slots.get(tick as usize % TICKS) else {
            return;
        };
        let tag = tick & 0xffff_ffff;
        let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(if v >> 32 == tag {
                v.saturating_add(u64::from((v & 0xffff_ffff) < 0xffff_ffff))
            } else {
                (tag << 32) | 1
            })
        });
    }

    /// The sum over the ticks `from..=to` (at most [`TICKS`] of them).
    fn sum(&self, from: u64, to: u64) -> u64 {
        let from = from.max(to.saturating_sub(TICKS as u64 - 1));
        (from..=to)
            .filter_map(|tick| {
                let v = self
                    .slots
                    .get(tick as usize % TICKS)?
                    .load(Ordering::Relaxed);
                (v >> 32 == tick & 0xffff_ffff).then_some(v & 0xffff_ffff)
            })
            .sum()
    }
}

struct Series {
    samples: Box<[AtomicU64]>,
    next: AtomicU64,
    requests: Counters,
    errors: Counters,
}

impl Series {
    fn new() -> Series {
        Series {
            samples: (0..SAMPLES).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicU64::new(0),
            requests: Counters::new(),
            errors: Counters::new(),
        }
    }
}

pub(crate) struct Stats {
    base: Instant,
    stable: Series,
    new: Series,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            base: Instant::now(),
            stable: Series::new(),
            new: Series::new(),
        }
    }
}

impl Stats {
    fn track(&self, t: Track) -> &Series {
        match t {
            Track::Stable => &self.stable,
            Track::New => &self.new,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn record(&self, t: Track, latency: Duration, error: bool) {
        let s = self.track(t);
        let now = self.now_ms();
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // Two requests racing for a slot a whole ring apart is impossible in practice; if
        // it happened, one sample would be lost, not corrupted.
        let i = s.next.fetch_add(1, Ordering::Relaxed) as usize % SAMPLES;
        if let Some(slot) = s.samples.get(i) {
            slot.store(pack(now, latency_us, error), Ordering::Relaxed);
        }
        s.requests.add(now / TICK_MS);
        if error {
            s.errors.add(now / TICK_MS);
        }
    }

    /// A metric source's query answered from these measurements: the query names the
    /// measurement (`error_rate`, `latency_p95`…), else the metric's name does.
    pub(crate) fn query(
        &self,
        metric: &str,
        query: Option<&str>,
        track: Track,
        window_ms: u64,
    ) -> Option<f64> {
        self.measure(
            track,
            query.unwrap_or(metric),
            std::time::Duration::from_millis(window_ms),
        )
    }

    /// A measurement over the last `window`: `error_rate` (percent), `latency_p50/p95/p99`
    /// (ms), `throughput` (requests per second), `requests`, `errors`. `None` without
    /// requests.
    pub(crate) fn measure(&self, t: Track, metric: &str, window: Duration) -> Option<f64> {
        let s = self.track(t);
        let now = self.now_ms();
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let since = now.saturating_sub(window_ms);
        let mut latencies = Vec::new();
        let mut errors = 0u64;
        // Whether a sample older than the window is still in the ring (or a slot is still
        // empty): then the ring holds every request of the window.
        let mut complete = false;
        for slot in s.samples.iter() {
            match unpack(slot.load(Ordering::Relaxed)) {
                Some((at, latency_us, error)) if at >= since => {
                    latencies.push(latency_us);
                    errors += u64::from(error);
                }
                _ => complete = true,
            }
        }
        if latencies.is_empty() {
            return None;
        }
        let (requests, errors) = if complete {
            (latencies.len() as u64, errors)
        } else {
            let (from, to) = (since / TICK_MS, now / TICK_MS);
            (s.requests.sum(from, to), s.errors.sum(from, to))
        };
        let n = requests.max(1) as f64;
        let mut percentile = |p: f64| {
            latencies.sort_unstable();
            let rank =
                ((p / 100.0 * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            latencies.get(rank - 1).map(|us| *us as f64 / 1000.0)
        };
        match metric {
            "error_rate" => Some(errors as f64 * 100.0 / n),
            "latency_p50" => percentile(50.0),
            "latency_p95" => percentile(95.0),
            "latency_p99" => percentile(99.0),
            "throughput" => Some(requests as f64 / window.as_secs_f64().max(0.001)),
            "requests" => Some(requests as f64),
            "errors" => Some(errors as f64),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_errors() {
        let s = Stats::default();
        for i in 1..=100u64 {
            s.record(Track::New, Duration::from_millis(i), i % 10 == 0);
        }
        let w = Duration::from_secs(60);
        assert_eq!(s.measure(Track::New, "error_rate", w), Some(10.0));
        assert_eq!(s.measure(Track::New, "errors", w), Some(10.0));
        assert_eq!(s.measure(Track::New, "requests", w), Some(100.0));
        assert_eq!(s.measure(Track::New, "latency_p95", w), Some(95.0));
        assert_eq!(s.measure(Track::New, "latency_p50", w), Some(50.0));
        assert_eq!(s.measure(Track::Stable, "error_rate", w), None);
    }

    #[test]
    fn packing_round_trips_and_saturates() {
        assert_eq!(unpack(0), None);
        assert_eq!(unpack(pack(0, 0, false)), Some((0, 0, false)));
        assert_eq!(unpack(pack(12_345, 678, true)), Some((12_345, 678, true)));
        assert_eq!(
            unpack(pack(1, u64::MAX, false)),
            Some((1, LATENCY_MAX, false))
        );
    }

    #[test]
    fn memory_is_bounded_and_counts_stay_exact_past_the_ring() {
        let s = Stats::default();
        let n = SAMPLES as u64 * 3 / 2;
        for i in 0..n {
            s.record(Track::Stable, Duration::from_micros(500), i % 4 == 0);
        }
        let w = Duration::from_secs(60);
        assert_eq!(s.measure(Track::Stable, "requests", w), Some(n as f64));
        assert_eq!(s.measure(Track::Stable, "errors", w), Some((n / 4) as f64));
        assert_eq!(s.measure(Track::Stable, "error_rate", w), Some(25.0));
        assert_eq!(s.measure(Track::Stable, "latency_p99", w), Some(0.5));
    }

    #[test]
    fn counters_forget_old_ticks() {
        let c = Counters::new();
        c.add(5);
        c.add(5);
        c.add(5 + TICKS as u64);
        assert_eq!(c.sum(0, 5), 0, "tick 5 was overwritten a whole ring later");
        assert_eq!(c.sum(0, 5 + TICKS as u64), 1);
        c.add(6);
        c.add(6);
        assert_eq!(c.sum(6, 6), 2);
    }

    #[test]
    fn concurrent_recording_loses_nothing() {
        let s = std::sync::Arc::new(Stats::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        s.record(Track::New, Duration::from_millis(1), false);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap_or_default();
        }
        let w = Duration::from_secs(60);
        assert_eq!(s.measure(Track::New, "requests", w), Some(40_000.0));
    }
}
