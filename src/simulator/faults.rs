//! Seeded fault injection: answers 502/503/504 to a share of requests, and drops a share of
//! connections without an answer (for writes, half of them after applying the write). The same
//! seed and the same request sequence give the same faults.

use std::sync::Mutex;

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
    fault_rate: f64,
    drop_rate: f64,
    rng: Mutex<StdRng>,
}

impl Faults {
    pub fn new(fault_rate: f64, drop_rate: f64, seed: u64) -> Faults {
        Faults {
            fault_rate: fault_rate.clamp(0.0, 1.0),
            drop_rate: drop_rate.clamp(0.0, 1.0),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// The fault for the next request (`is_write`: whether it changes state).
    pub fn draw(&self, is_write: bool) -> Fault {
        if self.fault_rate == 0.0 && self.drop_rate == 0.0 {
            return Fault::None;
        }
        let Ok(mut rng) = self.rng.lock() else {
            return Fault::None;
        };
        if self.fault_rate > 0.0 && rng.random_bool(self.fault_rate) {
            return Fault::ServerError([502, 503, 504][rng.random_range(0..3)]);
        }
        if self.drop_rate > 0.0 && rng.random_bool(self.drop_rate) {
            return Fault::Drop {
                after_apply: is_write && rng.random_bool(0.5),
            };
        }
        Fault::None
    }
}
