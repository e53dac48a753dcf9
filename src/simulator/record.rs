//! Every response the simulator answered, kept when `SimulatorConfig::record_responses` is on,
//! so that contract tests can validate each body against the OpenAPI contract.

use serde::{Deserialize, Serialize};

use crate::api::Operation;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// The contract operation, or `None` for a path the contract does not have.
    #[serde(with = "operation_id")]
    pub operation: Option<Operation>,
    pub status: u16,
    pub body: serde_json::Value,
}

mod operation_id {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::api::Operation;

    pub fn serialize<S: Serializer>(op: &Option<Operation>, s: S) -> Result<S::Ok, S::Error> {
        match op {
            Some(op) => s.serialize_some(op.operation_id()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Operation>, D::Error> {
        let id: Option<String> = Option::deserialize(d)?;
        Ok(id.and_then(|id| Operation::from_operation_id(&id)))
    }
}
