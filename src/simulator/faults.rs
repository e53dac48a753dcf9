//! Seeded fault injection: answers 502/503/504 to a share of requests, and drops a share of
//! connections without an answer (for writes, half of them after applying the write). The same
//! seed and the same request sequence give the same faults.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Answer with this 5xx status, state untouched.
    ServerError(u16),
    /// Close the connection without answering; `after_apply`: the write happens first.
    Drop {
        after_apply: bool,
    },
}

#[derive(Debug)]
pub struct Faults {
    /// f64 bits, so that a running simulator's rates can be changed (`set_rates`).
    fault_rate: AtomicU64,
    drop_rate: AtomicU64,
    rng: Mutex<StdRng>,
}

impl Faults {
    pub fn new(fault_rate: f64, drop_rate: f64, seed: u64) -> Faults {
        let faults = Faults {
            fault_rate: AtomicU64::new(0),
            drop_rate: AtomicU64::new(0),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        };
        faults.set_rates(fault_rate, drop_rate);
        faults
    }

    pub fn set_rates(&self, fault_rate: f64, drop_rate: f64) {
        let clamp = |r: f64| {
            if r.is_finite() {
                r.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        self.fault_rate
            .store(clamp(fault_rate).to_bits(), Ordering::SeqCst);
        self.drop_rate
            .store(clamp(drop_rate).to_bits(), Ordering::SeqCst);
    }

    /// The fault for the next request (`is_write`: whether it changes state).
    pub fn draw(&self, is_write: bool) -> Fault {
        let fault_rate = f64::from_bits(self.fault_rate.load(Ordering::SeqCst));
        let drop_rate = f64::from_bits(self.drop_rate.load(Ordering::SeqCst));
        if fault_rate == 0.0 && drop_rate == 0.0 {
            return Fault::None;
        }
        let Ok(mut rng) = self.rng.lock() else {
            return Fault::None;
        };
        if fault_rate > 0.0 && rng.random_bool(fault_rate) {
            return Fault::ServerError([502, 503, 504][rng.random_range(0..3)]);
        }
        if drop_rate > 0.0 && rng.random_bool(drop_rate) {
            return Fault::Drop {
                after_apply: is_write && rng.random_bool(0.5),
            };
        }
        Fault::None
    }
}
