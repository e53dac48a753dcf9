//! The events of `translate` (built by `crate::translate` from its counters and results).

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::api::ResourceType;

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TranslateStarted {
    pub accounts: u64,
    pub chains_total: u64,
    /// Complete from earlier runs.
    pub chains_done: u64,
    pub rows: u64,
    pub resumed: bool,
    pub cut_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TranslateProgress {
    pub rows: u64,
    pub pages: u64,
    pub chains_done: u64,
    pub chains_failed: u64,
    pub chains_total: u64,
    /// Written to two decimals.
    #[serde(serialize_with = "hundredths")]
    #[schemars(range(min = 0))]
    pub pages_per_second: f64,
    pub eta_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AccountFailed {
    pub pair: String,
    pub account_id: String,
    pub resource_type: Option<ResourceType>,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub reason: String,
    /// Refused for good by Nylas (a 4xx); otherwise the next run tries again.
    pub refused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TranslateEnded {
    pub output: String,
    pub errors_file: String,
    pub accounts: u64,
    pub chains_total: u64,
    pub chains_done: u64,
    pub rows: u64,
    pub rows_this_run: u64,
    pub pages_this_run: u64,
    pub pages_resumed: u64,
    pub accounts_failed: usize,
    pub accounts_refused: usize,
    pub throughput: Vec<Throughput>,
    /// Written to one decimal.
    #[serde(serialize_with = "tenths")]
    pub elapsed_seconds: f64,
    pub complete: bool,
}

/// One pair's application: its requests, and their pace against its limit.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Throughput {
    pub pair: String,
    pub requests: u64,
    pub rate_limit: u32,
    /// Requests per second over the run, as a share of the limit (written to three decimals).
    #[serde(serialize_with = "thousandths")]
    pub ratio: Option<f64>,
}

fn tenths<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((x * 10.0).round() / 10.0)
}

fn hundredths<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((x * 100.0).round() / 100.0)
}

fn thousandths<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => s.serialize_some(&((x * 1000.0).round() / 1000.0)),
        None => s.serialize_none(),
    }
}
