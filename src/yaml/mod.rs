//! The project's one YAML parser. Everything that reads YAML (plans, simulator worlds, the
//! OpenAPI contract in tests) goes through here, so the parser can be swapped in one place.
//!
//! It keeps what `serde_yaml` cannot: the source span of every node, so that a diagnostic about
//! any value of a plan can point at its line and column. The tree is built from the event stream
//! of `saphyr-parser` without recursion, with limits on nesting depth and on the number of nodes
//! after alias expansion (so an alias bomb is an error, not an out-of-memory).

mod build;
mod error;
mod node;
mod scalar;

pub use build::{Limits, parse, parse_collecting, parse_collecting_visiting, parse_with_limits};
pub use error::{LineIndex, YamlError, line_column};
pub use node::{Node, Value};

use serde::de::DeserializeOwned;

/// Parses one YAML document and deserializes it into `T` through its JSON form.
///
/// Syntax errors carry their line and column; a document that parses but does not fit `T`
/// reports serde's message, with the location of the document's root.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let root = parse(text).map_err(|mut errors| errors.swap_remove(0))?;
    serde_json::from_value(root.to_json())
        .map_err(|err| YamlError::at(text, root.span.clone(), err.to_string()))
}
