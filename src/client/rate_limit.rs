//! Client-side rate limiting per v3 application, so a run stays under Nylas's limit (20 requests
//! per second per application ID) instead of bouncing off it with 429s.
//!
//! The limiter is a GCRA with no burst allowance: every permit is scheduled one emission interval
//! after the previous one, so requests go out evenly spaced and no 1-second window ever holds
//! more than the limit. The interval carries a small margin on top of `1 s / limit` because the
//! server counts arrivals, not departures: network jitter can bring two evenly spaced requests
//! closer together on the way, and the margin absorbs that.
//!
//! Every task that talks to one application shares one limiter through [`RateLimiters`], a
//! registry keyed by v3 application ID.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Nylas's documented limit for the migration endpoints, per application ID.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 20;

/// Default margin on the emission interval: 2% leaves 20 ms of arrival jitter per second of
/// requests and still sends at 98% of the limit.
pub const DEFAULT_SPACING_MARGIN: f64 = 0.02;

/// How many send instants a recording limiter keeps (the most recent ones).
const RECORD_CAPACITY: usize = 100_000;

/// The limiter of one v3 application.
#[derive(Debug)]
pub struct RateLimiter {
    app_id: String,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    per_second: u32,
    interval: Duration,
    margin: f64,
    /// The earliest instant the next permit may be used (GCRA's theoretical arrival time).
    next_free: Option<Instant>,
    /// Instants at which permits were used, if recording.
    sent: Option<VecDeque<Instant>>,
}

impl State {
    fn set_rate(&mut self, per_second: u32) {
        let per_second = per_second.max(1);
        self.per_second = per_second;
        self.interval = Duration::from_secs(1).mul_f64((1.0 + self.margin) / f64::from(per_second));
    }
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests per second (at least 1), each spaced by
    /// `(1 + margin) / per_second` seconds.
    pub fn new(app_id: impl Into<String>, per_second: u32, margin: f64, record: bool) -> Self {
        let mut state = State {
            per_second: 0,
            interval: Duration::ZERO,
            margin: margin.max(0.0),
            next_free: None,
            sent: record.then(VecDeque::new),
        };
        state.set_rate(per_second);
        RateLimiter {
            app_id: app_id.into(),
            state: Mutex::new(state),
        }
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    pub fn per_second(&self) -> u32 {
        self.lock().per_second
    }

    /// The spacing between two permits.
    pub fn interval(&self) -> Duration {
        self.lock().interval
    }

    /// Waits for this task's turn to send one request.
    ///
    /// The slot is reserved before waiting, so concurrent callers are served in arrival order;
    /// a caller dropped while waiting wastes its slot, which only errs on the slow side.
    pub async fn acquire(&self) {
        let slot = {
            let mut state = self.lock();
            let now = Instant::now();
            let slot = state.next_free.map_or(now, |next| next.max(now));
            state.next_free = Some(slot + state.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        let mut state = self.lock();
        if let Some(sent) = state.sent.as_mut() {
            if sent.len() == RECORD_CAPACITY {
                sent.pop_front();
            }
            // The instant the permit is used, not the one it was scheduled for: a busy runtime
            // can wake tasks late, and the record must show what actually left.
            sent.push_back(Instant::now());
        }
    }

    /// Makes every caller wait until `until` (a 429's Retry-After): the server has said this
    /// application is over its limit, and every task sharing the limiter must back off, not
    /// only the one that was told.
    pub fn hold_until(&self, until: Instant) {
        let mut state = self.lock();
        let next = state.next_free.map_or(until, |next| next.max(until));
        state.next_free = Some(next);
    }

    /// Lowers the rate (never raises it: the lowest limit any plan entry asks for wins).
    pub fn lower_rate(&self, per_second: u32) {
        let mut state = self.lock();
        if per_second.max(1) < state.per_second {
            state.set_rate(per_second);
        }
    }

    /// The instants permits were used, oldest first (empty unless the limiter records).
    pub fn send_instants(&self) -> Vec<Instant> {
        self.lock()
            .sent
            .as_ref()
            .map(|sent| sent.iter().copied().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a pair of plain values, consistent after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The largest number of `instants` (sorted ascending) inside any half-open window
/// `[t, t + window)`.
pub fn max_in_any_window(instants: &[Instant], window: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, &instant) in instants.iter().enumerate() {
        while instant.duration_since(instants[start]) >= window {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

/// One limiter per v3 application ID, shared by every task (and every [`super::AppClient`])
/// that talks to that application.
#[derive(Debug)]
pub struct RateLimiters {
    default_per_second: u32,
    margin: f64,
    record: bool,
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
}

impl Default for RateLimiters {
    fn default() -> Self {
        RateLimiters::new(DEFAULT_REQUESTS_PER_SECOND, DEFAULT_SPACING_MARGIN, false)
    }
}

impl RateLimiters {
    pub fn new(default_per_second: u32, margin: f64, record: bool) -> Self {
        RateLimiters {
            default_per_second,
            margin,
            record,
            limiters: Mutex::new(HashMap::new()),
        }
    }

    /// The limiter of `app_id`, created on first use. `per_second` (from the plan) lowers the
    /// default; if two callers ask for different limits for one application, the lower wins.
    pub fn for_app(&self, app_id: &str, per_second: Option<u32>) -> Arc<RateLimiter> {
        let wanted = per_second.map_or(self.default_per_second, |asked| {
            asked.min(self.default_per_second)
        });
        let mut limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        let limiter = limiters.entry(app_id.to_owned()).or_insert_with(|| {
            Arc::new(RateLimiter::new(app_id, wanted, self.margin, self.record))
        });
        limiter.lower_rate(wanted);
        Arc::clone(limiter)
    }

    /// The limiter of `app_id`, if one was created.
    pub fn get(&self, app_id: &str) -> Option<Arc<RateLimiter>> {
        self.limiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(app_id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn concurrent_tasks_never_exceed_the_rate() {
        let limiter = Arc::new(RateLimiter::new("app", 20, DEFAULT_SPACING_MARGIN, true));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                tokio::spawn(async move { limiter.acquire().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let sent = limiter.send_instants();
        assert_eq!(sent.len(), 200);
        assert!(max_in_any_window(&sent, Duration::from_secs(1)) <= 20);
        // And it is not much slower than the limit: 200 requests at 20/s take about 10 s.
        let span = sent[199].duration_since(sent[0]);
        assert!(
            span < Duration::from_secs_f64(199.0 / 20.0 * 1.03),
            "{span:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn hold_until_delays_everyone() {
        let limiter = RateLimiter::new("app", 20, 0.0, true);
        let start = Instant::now();
        limiter.hold_until(start + Duration::from_secs(3));
        limiter.acquire().await;
        assert!(limiter.send_instants()[0] >= start + Duration::from_secs(3));
    }

    #[test]
    fn registry_shares_per_app_and_keeps_the_lowest_rate() {
        let registry = RateLimiters::default();
        let a1 = registry.for_app("a", None);
        let a2 = registry.for_app("a", Some(5));
        let b = registry.for_app("b", Some(50));
        assert!(Arc::ptr_eq(&a1, &a2));
        assert_eq!(a1.per_second(), 5);
        // A plan can lower the limit, never raise it above Nylas's.
        assert_eq!(b.per_second(), 20);
    }

    #[test]
    fn window_count() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let instants = [at(0), at(500), at(999), at(1000), at(1001), at(1998)];
        assert_eq!(max_in_any_window(&instants, Duration::from_secs(1)), 4);
    }
}
