//! Request counters by contract operation and status code, and clone attempts per account:
//! what tests read to turn "a second apply makes no write" into a measured fact. Served as JSON
//! at `GET /_sim/stats` and read in-process with `RunningSimulator::stats`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::api::Operation;

/// The operation name for requests that match no contract operation.
pub const UNKNOWN_OPERATION: &str = "unknown";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// operationId → HTTP status → requests answered with it (429s and injected 5xx included).
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// operationId → connections dropped without an answer. A write dropped after it was
    /// applied is also counted in `requests`; one dropped before is counted only here.
    pub dropped: BTreeMap<String, u64>,
    /// v2 account id → clone attempts (single clones and batch job processing, whatever the
    /// outcome, including answers with an existing grant).
    pub clones: BTreeMap<String, u64>,
    /// Every request received, whatever became of it.
    pub total: u64,
    /// operationId → the most requests of it the simulator was answering at once (since the
    /// start, or the last `RunningSimulator::reset_peaks`): 1 means a client sent them one
    /// after the other.
    #[serde(default)]
    pub peak_in_flight: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests to `op` answered with `status`.
    pub fn count(&self, op: Operation, status: u16) -> u64 {
        self.requests
            .get(op.operation_id())
            .and_then(|by_status| by_status.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// Requests to `op` answered, whatever the status.
    pub fn op_total(&self, op: Operation) -> u64 {
        self.requests
            .get(op.operation_id())
            .map(|by_status| by_status.values().sum())
            .unwrap_or(0)
    }

    /// Requests to write operations (POST, PUT, PATCH; translate excluded), whatever their
    /// status: zero means the client attempted no write at all.
    pub fn writes(&self) -> u64 {
        Operation::ALL
            .into_iter()
            .filter(|op| op.is_write())
            .map(|op| self.op_total(op) + self.dropped.get(op.operation_id()).copied().unwrap_or(0))
            .sum()
    }

    /// Requests answered with `status`, every operation together.
    pub fn status_total(&self, status: u16) -> u64 {
        self.requests
            .values()
            .filter_map(|by_status| by_status.get(&status))
            .sum()
    }

    /// Clone attempts of one account.
    pub fn clones_of(&self, account_id: &str) -> u64 {
        self.clones.get(account_id).copied().unwrap_or(0)
    }

    /// The most requests to `op` answered at once.
    pub fn peak_in_flight(&self, op: Operation) -> u64 {
        self.peak_in_flight
            .get(op.operation_id())
            .copied()
            .unwrap_or(0)
    }

    /// The most clone attempts any account had (1 means no account was cloned twice).
    pub fn max_clones(&self) -> u64 {
        self.clones.values().copied().max().unwrap_or(0)
    }
}

/// Live counters, cheap to bump from every request.
#[derive(Debug, Default)]
pub struct StatsCollector {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    requests: HashMap<(&'static str, u16), u64>,
    dropped: HashMap<&'static str, u64>,
    total: u64,
    in_flight: HashMap<&'static str, u64>,
    peak_in_flight: HashMap<&'static str, u64>,
}

/// A request being answered, counted in flight until it is dropped.
#[derive(Debug)]
pub struct InFlight<'a> {
    collector: &'a StatsCollector,
    op: &'static str,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut c) = self.collector.inner.lock()
            && let Some(n) = c.in_flight.get_mut(self.op)
        {
            *n = n.saturating_sub(1);
        }
    }
}

fn op_name(op: Option<Operation>) -> &'static str {
    op.map_or(UNKNOWN_OPERATION, Operation::operation_id)
}

impl StatsCollector {
    pub fn received(&self) {
        if let Ok(mut c) = self.inner.lock() {
            c.total += 1;
        }
    }

    /// A request to `op` is being answered until the guard is dropped.
    pub fn in_flight(&self, op: Option<Operation>) -> InFlight<'_> {
        let op = op_name(op);
        if let Ok(mut c) = self.inner.lock() {
            let n = c.in_flight.entry(op).or_insert(0);
            *n += 1;
            let now = *n;
            let peak = c.peak_in_flight.entry(op).or_insert(0);
            *peak = (*peak).max(now);
        }
        InFlight {
            collector: self,
            op,
        }
    }

    /// Starts the peaks again from the requests in flight now.
    pub fn reset_peaks(&self) {
        if let Ok(mut c) = self.inner.lock() {
            let now = c.in_flight.clone();
            c.peak_in_flight = now;
        }
    }

    pub fn answered(&self, op: Option<Operation>, status: u16) {
        if let Ok(mut c) = self.inner.lock() {
            *c.requests.entry((op_name(op), status)).or_insert(0) += 1;
        }
    }

    pub fn dropped(&self, op: Option<Operation>) {
        if let Ok(mut c) = self.inner.lock() {
            *c.dropped.entry(op_name(op)).or_insert(0) += 1;
        }
    }

    /// The counters as `Stats`, with `clones` filled in by the caller.
    pub fn snapshot(&self, clones: BTreeMap<String, u64>) -> Stats {
        let mut stats = Stats {
            clones,
            ..Stats::default()
        };
        if let Ok(c) = self.inner.lock() {
            for (&(op, status), &n) in &c.requests {
                *stats
                    .requests
                    .entry(op.to_string())
                    .or_default()
                    .entry(status)
                    .or_insert(0) += n;
            }
            stats.dropped = c.dropped.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            stats.total = c.total;
            stats.peak_in_flight = c
                .peak_in_flight
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect();
        }
        stats
    }
}
