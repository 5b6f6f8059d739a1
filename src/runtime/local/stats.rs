//! Per-version measurements of the traffic that passes through the proxy: every request's
//! latency and whether it failed (a 5xx answer or no answer), kept for a sliding window.
//! The `probe` metric source reads them: error rate, latency percentiles, throughput.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::runtime::world::Track;

/// How long samples are kept; longer than any analysis window the runtime asks for.
const KEEP: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    latency_us: u64,
    error: bool,
}

#[derive(Default)]
pub(crate) struct Stats {
    stable: Mutex<VecDeque<Sample>>,
    new: Mutex<VecDeque<Sample>>,
}

impl Stats {
    fn track(&self, t: Track) -> &Mutex<VecDeque<Sample>> {
        match t {
            Track::Stable => &self.stable,
            Track::New => &self.new,
        }
    }

    pub(crate) fn record(&self, t: Track, latency: Duration, error: bool) {
        let now = Instant::now();
        if let Ok(mut q) = self.track(t).lock() {
            q.push_back(Sample {
                at: now,
                latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                error,
            });
            while q.front().is_some_and(|s| now.duration_since(s.at) > KEEP) {
                q.pop_front();
            }
        }
    }

    /// A measurement over the last `window`: `error_rate` (percent), `latency_p50/p95/p99`
    /// (ms), `throughput` (requests per second), `requests`. `None` without requests.
    pub(crate) fn measure(&self, t: Track, metric: &str, window: Duration) -> Option<f64> {
        let now = Instant::now();
        let samples: Vec<Sample> = self
            .track(t)
            .lock()
            .ok()?
            .iter()
            .filter(|s| now.duration_since(s.at) <= window)
            .copied()
            .collect();
        if samples.is_empty() {
            return None;
        }
        let n = samples.len() as f64;
        let percentile = |p: f64| {
            let mut l: Vec<u64> = samples.iter().map(|s| s.latency_us).collect();
            l.sort_unstable();
            let rank = ((p / 100.0 * n).ceil() as usize).clamp(1, l.len());
            l.get(rank - 1).map(|us| *us as f64 / 1000.0)
        };
        match metric {
            "error_rate" => Some(samples.iter().filter(|s| s.error).count() as f64 * 100.0 / n),
            "latency_p50" => percentile(50.0),
            "latency_p95" => percentile(95.0),
            "latency_p99" => percentile(99.0),
            "throughput" => Some(n / window.as_secs_f64().max(0.001)),
            "requests" => Some(n),
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
        assert_eq!(s.measure(Track::New, "latency_p95", w), Some(95.0));
        assert_eq!(s.measure(Track::New, "latency_p50", w), Some(50.0));
        assert_eq!(s.measure(Track::Stable, "error_rate", w), None);
    }
}
