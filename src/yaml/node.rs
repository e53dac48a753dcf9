use std::ops::Range;

use serde_json::{Map, Number};

/// A YAML node with the byte range it occupies in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Range<usize>,
}

/// A node's value, resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in source order. Keys are always strings (a scalar key keeps its source text);
    /// duplicate keys are rejected by the parser.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The JSON value of this node (keys as strings, non-finite floats as null since JSON has
    /// no representation for them).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::Number((*i).into()),
            // JSON Schema counts `1.0` as an integer; so does this conversion, so that a value
            // the schema accepts as an integer also reads as one.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                serde_json::Value::Number((*f as i64).into())
            }
            Value::Float(f) => {
                Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    map.insert(key.as_str().unwrap_or_default().to_owned(), value.to_json());
                }
                serde_json::Value::Object(map)
            }
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value stored under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, value)| value)
    }

    /// The key node and value node stored under `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at a JSON pointer (`/pairs/0/name`), if there is one.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        self.pointer_entry(pointer).map(|(_, node)| node)
    }

    /// The node at a JSON pointer and, when its parent is a mapping, the key node that names it.
    pub fn pointer_entry(&self, pointer: &str) -> Option<(Option<&Node>, &Node)> {
        if pointer.is_empty() {
            return Some((None, self));
        }
        let mut key_node = None;
        let mut node = self;
        for raw in pointer.strip_prefix('/')?.split('/') {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            match &node.value {
                Value::Map(_) => {
                    let (k, v) = node.entry(&segment)?;
                    key_node = Some(k);
                    node = v;
                }
                Value::Seq(items) => {
                    node = items.get(segment.parse::<usize>().ok()?)?;
                    key_node = None;
                }
                _ => return None,
            }
        }
        Some((key_node, node))
    }

    /// A short name for the node's type, for messages ("a string", "a mapping").
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}
