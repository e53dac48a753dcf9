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
}

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
        }
    }

    /// Simulated Unix time, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        let scaled = match self.speed {
            JobSpeed::Manual => 0,
            JobSpeed::RealTime { factor } => {
                (self.started.elapsed().as_secs_f64() * factor.max(0.0) * 1000.0) as u64
            }
        };
        self.epoch_ms + scaled + self.stepped_ms.load(Ordering::SeqCst)
    }

    /// Moves simulated time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.stepped_ms
            .fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

/// Seconds for a millisecond timestamp, as the contract's `created_at`/`updated_at` want.
pub fn secs(ms: u64) -> i64 {
    (ms / 1000) as i64
}
