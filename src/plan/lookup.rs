//! Finding nodes by JSON pointer, many times over one tree.

use hashbrown::HashMap;
use std::cell::RefCell;

use crate::yaml::{Node, Value};

/// Mappings with more entries than this get a key index on first lookup.
const INDEXED_FROM: usize = 16;

/// A mapping's entries by key: the key node and the value node.
type KeyIndex<'a> = HashMap<&'a str, (&'a Node, &'a Node)>;

/// Looks up nodes by JSON pointer like [`Node::pointer_entry`], but finds a key in a large
/// mapping through an index built on first use.
///
/// [`Node::entry`] searches a mapping's entries in order. Diagnostics locate their node by
/// pointer, one lookup each, so a mapping with hundreds of thousands of keys on the path to many
/// diagnostics made reporting quadratic: 200,000 junk keys beside 20,000 broken pairs ran for
/// minutes.
pub(crate) struct Lookup<'a> {
    root: &'a Node,
    /// Each large mapping's keys, by the mapping's address; the first of duplicate keys wins,
    /// as in [`Node::entry`].
    indexes: RefCell<HashMap<*const Node, KeyIndex<'a>>>,
}

impl<'a> Lookup<'a> {
    pub(crate) fn new(root: &'a Node) -> Self {
        Lookup {
            root,
            indexes: RefCell::new(HashMap::new()),
        }
    }

    pub(crate) fn root(&self) -> &'a Node {
        self.root
    }

    /// The key node and value node stored under `key` in `node`, if it is a mapping with it.
    pub(crate) fn entry(&self, node: &'a Node, key: &str) -> Option<(&'a Node, &'a Node)> {
        let Value::Map(entries) = &node.value else {
            return None;
        };
        if entries.len() <= INDEXED_FROM {
            return node.entry(key);
        }
        let mut indexes = self.indexes.borrow_mut();
        let index = indexes.entry(node as *const Node).or_insert_with(|| {
            let mut index = HashMap::with_capacity(entries.len());
            for (k, v) in entries {
                if let Some(name) = k.as_str() {
                    index.entry(name).or_insert((k, v));
                }
            }
            index
        });
        index.get(key).copied()
    }

    /// The node at a JSON pointer, if there is one.
    pub(crate) fn pointer(&self, pointer: &str) -> Option<&'a Node> {
        self.pointer_entry(pointer).map(|(_, node)| node)
    }

    /// The node at a JSON pointer and, when its parent is a mapping, the key node that names it.
    pub(crate) fn pointer_entry(&self, pointer: &str) -> Option<(Option<&'a Node>, &'a Node)> {
        if pointer.is_empty() {
            return Some((None, self.root));
        }
        let mut key_node = None;
        let mut node = self.root;
        for raw in pointer.strip_prefix('/')?.split('/') {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            match &node.value {
                Value::Map(_) => {
                    let (k, v) = self.entry(node, &segment)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_node_pointer_finds() {
        let keys: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        let text = format!("{keys}k3: dup\nlist: [a, {{b: c}}]\n");
        let root = crate::yaml::parse_collecting(&text).0.unwrap();
        let lookup = Lookup::new(&root);
        for pointer in [
            "",
            "/k3",
            "/k39",
            "/list/1/b",
            "/missing",
            "/list/9",
            "/k3/x",
        ] {
            assert_eq!(lookup.pointer(pointer), root.pointer(pointer), "{pointer}");
        }
    }
}
