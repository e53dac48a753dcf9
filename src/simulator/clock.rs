//! The simulated clock that batch jobs advance against. Tests step it explicitly with
//! `RunningSimulator::advance`, so no test waits on wall time; `simulate`, the demo and the
//! benchmarks let it follow wall time scaled by a speed factor. Stepping works in both modes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How the simulated clock moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobSpeed {
    /// Time moves only when `advance` is called: deterministic, for tests.
    Manual,
    /// Time follows wall time multiplied by `factor` (1.0 = real time, 60.0 = a minute per
    /// second), plus whatever `advance` adds.
    RealTime { factor: f64 },
}

impl Default for JobSpeed {
    fn default() -> Self {
        JobSpeed::RealTime { factor: 1.0 }
    }
}

#[derive(Debug)]
pub struct Clock {
    speed: JobSpeed,
    started: Instant,
    /// Unix time in milliseconds when the simulator started: simulated time starts there.
    epoch_ms: u64,
    stepped_ms: AtomicU64,
    /// While held: the simulated time it was held at (`NOT_HELD` otherwise).
    held_at_ms: AtomicU64,
    /// Wall-driven time that passed while held, taken back out so time resumes where it stopped.
    paused_ms: AtomicU64,
}

const NOT_HELD: u64 = u64::MAX;

impl Clock {
    pub fn new(speed: JobSpeed) -> Clock {
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Clock {
            speed,
            started: Instant::now(),
            epoch_ms,
            stepped_ms: AtomicU64::new(0),
            held_at_ms: AtomicU64::new(NOT_HELD),
            paused_ms: AtomicU64::new(0),
        }
    }

    /// Simulated Unix time, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self.held_at_ms.load(Ordering::SeqCst) {
            NOT_HELD => self.running_ms(),
            held => held,
        }
    }

    /// Stops time (jobs stop advancing) until [`Clock::release`], whatever the speed: a test
    /// can then reach a point "while a job runs" without racing wall time.
    pub fn hold(&self) {
        let now = self.now_ms();
        let _ = self
            .held_at_ms
            .compare_exchange(NOT_HELD, now, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Lets time move again from where [`Clock::hold`] stopped it.
    pub fn release(&self) {
        let held = self.held_at_ms.load(Ordering::SeqCst);
        if held == NOT_HELD {
            return;
        }
        let running = self.running_ms();
        self.paused_ms
            .fetch_add(running.saturating_sub(held), Ordering::SeqCst);
        self.held_at_ms.store(NOT_HELD, Ordering::SeqCst);
    }

    fn running_ms(&self) -> u64 {
        let scaled = match self.speed {
            JobSpeed::Manual => 0,
            JobSpeed::RealTime { factor } => {
                (self.started.elapsed().as_secs_f64() * factor.max(0.0) * 1000.0) as u64
            }
        };
        (self.epoch_ms + scaled + self.stepped_ms.load(Ordering::SeqCst))
            .saturating_sub(self.paused_ms.load(Ordering::SeqCst))
    }

    /// Moves simulated time forward by `d` (also while held).
    pub fn advance(&self, d: Duration) {
        let ms = d.as_millis() as u64;
        self.stepped_ms.fetch_add(ms, Ordering::SeqCst);
        let _ = self
            .held_at_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                (held != NOT_HELD).then(|| held.saturating_add(ms))
            });
    }
}

/// Seconds for a millisecond timestamp, as the contract's `created_at`/`updated_at` want.
pub fn secs(ms: u64) -> i64 {
    (ms / 1000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_time_stands_still_and_resumes_where_it_stopped() {
        let clock = Clock::new(JobSpeed::RealTime { factor: 1000.0 });
        clock.hold();
        let held = clock.now_ms();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now_ms(), held, "time moved while held");
        clock.advance(Duration::from_secs(3));
        assert_eq!(clock.now_ms(), held + 3000, "advance works while held");
        clock.release();
        let after = clock.now_ms();
        assert!(after >= held + 3000, "time went back after release");
        // 20 ms of wall time at 1000x would be 20 s: none of it is counted.
        assert!(
            after < held + 3000 + 5_000,
            "held wall time was counted: {}",
            after - held
        );
    }
}
