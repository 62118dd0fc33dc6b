//! `rate_limit` of the web configuration file: one token bucket for the whole server, as
//! exporter-toolkit keeps one `golang.org/x/time/rate` limiter, consulted before anything else
//! about a request (before basic auth and the configured headers), a refused request answered
//! `429 Too Many Requests`. Like exporter-toolkit, the limit is the one the file held at start:
//! the rest of the file is read again for every connection, the limiter is not rebuilt.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wasmfed_config::RateLimit;

/// A token bucket that starts full (`burst` tokens) and gains one token every `interval`.
pub(crate) struct RateLimiter {
    burst: f64,
    interval: Duration,
    state: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter::starting_at(limit, Instant::now())
    }

    fn starting_at(limit: RateLimit, now: Instant) -> RateLimiter {
        let burst = limit.burst.max(0) as f64;
        RateLimiter {
            burst,
            interval: limit.interval,
            state: Mutex::new(Bucket {
                tokens: burst,
                at: now,
            }),
        }
    }

    /// Whether one more request may pass now (`rate.Limiter.Allow`).
    pub(crate) fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        let mut bucket = self.state.lock();
        let gained =
            now.saturating_duration_since(bucket.at).as_secs_f64() / self.interval.as_secs_f64();
        let tokens = (bucket.tokens + gained).min(self.burst);
        bucket.at = bucket.at.max(now);
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            true
        } else {
            bucket.tokens = tokens;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_request_per_interval() {
        let start = Instant::now();
        let limiter = RateLimiter::starting_at(
            RateLimit {
                burst: 2,
                interval: Duration::from_secs(1),
            },
            start,
        );
        let at = |millis| start + Duration::from_millis(millis);
        let verdicts: Vec<bool> = [0, 0, 0, 500, 1000, 1000, 3500, 3500, 3500, 3600]
            .into_iter()
            .map(|t| limiter.allow_at(at(t)))
            .collect();
        assert_eq!(
            verdicts,
            [true, true, false, false, true, false, true, true, false, false]
        );
        let none = RateLimiter::starting_at(
            RateLimit {
                burst: 0,
                interval: Duration::from_secs(1),
            },
            start,
        );
        assert!(!none.allow_at(at(0)) && !none.allow_at(at(60_000)));
    }
}
