//! The per-application rate limit (Nylas: 20 requests per second per application): a token
//! bucket per v3 application holding one second's worth of requests, refilled continuously in
//! wall time. A request that finds the bucket empty gets 429 and how long to wait.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    per_second: u32,
    buckets: Vec<Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    /// A limiter for `apps` applications; `per_second == 0` disables it.
    pub fn new(per_second: u32, apps: usize) -> RateLimiter {
        let now = Instant::now();
        RateLimiter {
            per_second,
            buckets: (0..apps)
                .map(|_| {
                    Mutex::new(Bucket {
                        tokens: f64::from(per_second),
                        refilled: now,
                    })
                })
                .collect(),
        }
    }

    /// Takes a token for `app`, or says how long until one is available.
    pub fn check(&self, app: usize) -> Result<(), Duration> {
        if self.per_second == 0 {
            return Ok(());
        }
        let Some(bucket) = self.buckets.get(app) else {
            return Ok(());
        };
        let Ok(mut bucket) = bucket.lock() else {
            return Ok(());
        };
        let rate = f64::from(self.per_second);
        let now = Instant::now();
        let refill = now.duration_since(bucket.refilled).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

/// The `Retry-After` value for a wait: whole seconds, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}
