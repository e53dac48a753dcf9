//! Builds a [`Node`] tree from the parser's events, iteratively.

use hashbrown::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::error::{LineIndex, YamlError};
use super::node::{Node, Value};
use super::scalar::resolve_plain;

/// Bounds on what a document may cost to load.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of lists and mappings.
    pub max_depth: usize,
    /// Most nodes in the tree, counting every copy an alias makes, and a scalar's text as one
    /// node more per [`SCALAR_BYTES_PER_NODE`] bytes.
    pub max_nodes: usize,
}

/// A scalar counts as one node plus one per this many bytes of its text. Counted as one node
/// only, a long string repeated by aliases slipped past the limit: 180 KB (a 100 KB string,
/// 20,000 aliases) took 4 GB and 23 s, and 5 MB would take a terabyte. Without aliases this
/// adds at most the file's size / 64 to the count, far below the limit for any real document.
pub const SCALAR_BYTES_PER_NODE: usize = 64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_nodes: 2_000_000,
        }
    }
}

/// Parses a single YAML document with the default [`Limits`].
///
/// On failure returns every error found: a syntax error stops the parse, while duplicate keys
/// are all collected.
pub fn parse(text: &str) -> Result<Node, Vec<YamlError>> {
    parse_with_limits(text, Limits::default())
}

pub fn parse_with_limits(text: &str, limits: Limits) -> Result<Node, Vec<YamlError>> {
    match Builder::new(text, limits).run() {
        Ok((root, errors)) if errors.is_empty() => Ok(root),
        Ok((_, errors)) | Err(errors) => Err(errors),
    }
}

/// Parses a single YAML document, returning the tree whenever one could be built: with
/// duplicate keys the tree is still returned (keeping every entry) next to their errors, so a
/// caller can go on to report other problems too.
pub fn parse_collecting(text: &str) -> (Option<Node>, Vec<YamlError>) {
    match Builder::new(text, Limits::default()).run() {
        Ok((root, errors)) => (Some(root), errors),
        Err(errors) => (None, errors),
    }
}

/// [`parse_collecting`], handing `visit` each item of the list under the root mapping's `key`
/// (its index and its node) as soon as the item is complete, while it is fresh in the
/// processor's cache: work done there on a large document costs less than on a walk of the
/// whole tree afterwards. The tree keeps what `visit` returns in the item's place (the item, or
/// a stand-in when the caller has all it needs of it). A visited item is the one at that index
/// of the tree, unless the document has errors (a repeated root key, say): check those first.
pub fn parse_collecting_visiting(
    text: &str,
    key: &str,
    visit: &mut dyn FnMut(usize, Node) -> Node,
) -> (Option<Node>, Vec<YamlError>) {
    let mut builder = Builder::new(text, Limits::default());
    builder.visit = Some(Visit { key, visit });
    match builder.run() {
        Ok((root, errors)) => (Some(root), errors),
        Err(errors) => (None, errors),
    }
}

/// The items [`parse_collecting_visiting`] visits, and what it calls.
struct Visit<'a> {
    key: &'a str,
    visit: &'a mut dyn FnMut(usize, Node) -> Node,
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// The keys' spans by name, made once the mapping has [`INDEXED_FROM`] entries: a
        /// smaller one is searched in order, which costs less than a map per mapping.
        seen: Option<HashMap<String, Range<usize>>>,
        size: usize,
    },
}

/// Mappings with this many entries get an index of their keys, so that finding a duplicate
/// stays linear in a mapping with hundreds of thousands of keys.
const INDEXED_FROM: usize = 16;

/// The span of the first key named `name` in a mapping's entries, through its index once it has
/// one (made here when the mapping reaches [`INDEXED_FROM`] entries).
fn first_key(
    entries: &[(Node, Node)],
    seen: &mut Option<HashMap<String, Range<usize>>>,
    name: &str,
) -> Option<Range<usize>> {
    if seen.is_none() && entries.len() >= INDEXED_FROM {
        let mut index = HashMap::with_capacity(entries.len() * 2);
        for (k, _) in entries {
            if let Some(key) = k.as_str() {
                index
                    .entry(key.to_owned())
                    .or_insert_with(|| k.span.clone());
            }
        }
        *seen = Some(index);
    }
    match seen {
        Some(index) => index.get(name).cloned(),
        None => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(k, _)| k.span.clone()),
    }
}

struct Builder<'a> {
    text: &'a str,
    limits: Limits,
    visit: Option<Visit<'a>>,
    /// Character index → byte offset, only for non-ASCII text (the parser counts characters).
    char_to_byte: Option<Vec<usize>>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
    errors: Vec<YamlError>,
    /// Built at the first error, for locating errors without rescanning the text each time.
    lines: Option<LineIndex>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str, limits: Limits) -> Self {
        let char_to_byte = (!text.is_ascii()).then(|| {
            let mut map: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            map.push(text.len());
            map
        });
        Builder {
            text,
            limits,
            visit: None,
            char_to_byte,
            stack: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            root: None,
            documents: 0,
            errors: Vec::new(),
            lines: None,
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.char_to_byte {
            Some(map) => map.get(char_index).copied().unwrap_or(self.text.len()),
            None => char_index.min(self.text.len()),
        }
    }

    fn range(&self, span: &Span) -> Range<usize> {
        self.byte(span.start.index())..self.byte(span.end.index())
    }

    /// The errors so far and a fatal one; the builder is done after it.
    fn fail(&mut self, span: Range<usize>, message: impl Into<String>) -> Vec<YamlError> {
        let lines = self.lines.get_or_insert_with(|| LineIndex::new(self.text));
        let error = YamlError::at_indexed(lines, self.text, span, message);
        let mut errors = std::mem::take(&mut self.errors);
        errors.push(error);
        errors
    }

    /// The tree and the non-fatal errors, or the errors up to and including a fatal one.
    fn run(mut self) -> Result<(Node, Vec<YamlError>), Vec<YamlError>> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(next) = parser.next_event() {
            let (event, span) = match next {
                Ok(pair) => pair,
                Err(err) => {
                    let at = self.byte(err.marker().index());
                    return Err(self.fail(at..at, format!("invalid YAML: {}", err.info())));
                }
            };
            let range = self.range(&span);
            match event {
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(self.fail(
                            range,
                            "expected one YAML document, found a second one (`---`)",
                        ));
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                    let size = 1 + text.len() / SCALAR_BYTES_PER_NODE;
                    let value = if style == ScalarStyle::Plain && !is_str_tag {
                        resolve_plain(text)
                    } else {
                        Value::String(text.into_owned())
                    };
                    let node = Node { value, span: range };
                    self.count(size, &node.span)?;
                    if anchor > 0 {
                        self.anchors.insert(anchor, (node.clone(), size));
                    }
                    self.push(node, size)?;
                }
                Event::Alias(id) => {
                    let Some(&(_, size)) = self.anchors.get(&id) else {
                        return Err(self.fail(range, "alias to an anchor that is not defined"));
                    };
                    // Counted before the copy is made, so a copy over the limit never is.
                    self.count(size, &range)?;
                    let node = self.anchors[&id].0.clone();
                    // The copy keeps the anchored node's content but points at the alias, so a
                    // diagnostic about it shows where it was used.
                    let node = Node {
                        span: range,
                        ..node
                    };
                    self.push(node, size)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.open(&range)?;
                    self.stack.push(Frame::Seq {
                        start: range.start,
                        anchor,
                        items: Vec::new(),
                        size: 1,
                    });
                }
                Event::MappingStart(anchor, _) => {
                    self.open(&range)?;
                    self.stack.push(Frame::Map {
                        start: range.start,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        seen: None,
                        size: 1,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => self.close(&range)?,
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        let root = self.root.take().unwrap_or(Node {
            value: Value::Null,
            span: 0..0,
        });
        Ok((root, self.errors))
    }

    /// The end of a sequence or mapping: its node, with its span, pushed into its parent.
    fn close(&mut self, range: &Range<usize>) -> Result<(), Vec<YamlError>> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (node, anchor, size) = match frame {
            Frame::Seq {
                start,
                anchor,
                items,
                size,
            } => {
                let end = items.last().map_or(range.end, |n| n.span.end).max(start);
                let node = Node {
                    value: Value::Seq(items),
                    span: start..end,
                };
                (node, anchor, size)
            }
            Frame::Map {
                start,
                anchor,
                entries,
                size,
                ..
            } => {
                let end = entries
                    .last()
                    .map_or(range.end, |(_, v)| v.span.end)
                    .max(start);
                let node = Node {
                    value: Value::Map(entries),
                    span: start..end,
                };
                (node, anchor, size)
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        self.push(node, size)
    }

    fn open(&mut self, range: &Range<usize>) -> Result<(), Vec<YamlError>> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(self.fail(
                range.clone(),
                format!(
                    "nesting is deeper than {} levels; a plan never needs that",
                    self.limits.max_depth
                ),
            ));
        }
        self.count(1, range)
    }

    fn count(&mut self, nodes: usize, range: &Range<usize>) -> Result<(), Vec<YamlError>> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > self.limits.max_nodes {
            return Err(self.fail(
                range.clone(),
                format!(
                    "document has more than {} nodes (counting every alias copy); is this an alias bomb?",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    /// Adds a finished node to the collection being built, or makes it the root.
    fn push(&mut self, node: Node, size: usize) -> Result<(), Vec<YamlError>> {
        let text = self.text;
        // An item of the list under the visited key of the root mapping.
        let visited = self.visit.as_mut().filter(|v| {
            matches!(
                self.stack.as_slice(),
                [Frame::Map { key: Some(k), .. }, Frame::Seq { .. }] if k.as_str() == Some(v.key)
            )
        });
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq {
                items, size: total, ..
            }) => {
                let node = match visited {
                    Some(v) => (v.visit)(items.len(), node),
                    None => node,
                };
                items.push(node);
                *total += size;
                Ok(())
            }
            Some(Frame::Map {
                entries,
                key,
                seen,
                size: total,
                ..
            }) => {
                *total += size;
                let Some(k) = key.take() else {
                    let name = match node.value {
                        Value::String(s) => s,
                        Value::Null => "null".to_owned(),
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(_) => text.get(node.span.clone()).unwrap_or("").to_owned(),
                        Value::Seq(_) | Value::Map(_) => {
                            let lines = self.lines.get_or_insert_with(|| LineIndex::new(text));
                            let err = YamlError::at_indexed(
                                lines,
                                text,
                                node.span,
                                "a mapping key must be a plain value, not a list or mapping",
                            );
                            let mut errors = std::mem::take(&mut self.errors);
                            errors.push(err);
                            return Err(errors);
                        }
                    };
                    if let Some(first) = first_key(entries, seen, &name) {
                        let lines = self.lines.get_or_insert_with(|| LineIndex::new(text));
                        let mut err = YamlError::at_indexed(
                            lines,
                            text,
                            node.span.clone(),
                            format!("duplicate key `{name}`"),
                        );
                        err.related = Some(("first defined here".to_owned(), first));
                        self.errors.push(err);
                    } else if let Some(index) = seen {
                        index.insert(name.clone(), node.span.clone());
                    }
                    *key = Some(Node {
                        value: Value::String(name),
                        span: node.span,
                    });
                    return Ok(());
                };
                entries.push((k, node));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_items_under_a_root_key_are_visited_as_the_tree_holds_them() {
        let text = "pairs:\n  - &a { name: a }\n  - b\n  - *a\n  - [x, y]\nother:\n  - not visited\nnested:\n  pairs: [no]\n";
        let mut seen = Vec::new();
        let (root, errors) = parse_collecting_visiting(text, "pairs", &mut |i, node| {
            seen.push((i, node.clone()));
            node
        });
        assert!(errors.is_empty(), "{errors:?}");
        let root = root.unwrap();
        let Some(Value::Seq(items)) = root.get("pairs").map(|n| &n.value) else {
            panic!("pairs is a list");
        };
        let held: Vec<(usize, Node)> = items.iter().cloned().enumerate().collect();
        assert_eq!(seen, held);
        // What the visitor returns is what the tree keeps.
        let (root, _) = parse_collecting_visiting(text, "pairs", &mut |_, node| Node {
            value: Value::Null,
            span: node.span,
        });
        let Some(Value::Seq(items)) = root.unwrap().get("pairs").map(|n| n.value.clone()) else {
            panic!("pairs is a list");
        };
        assert!(items.iter().all(|n| n.value == Value::Null), "{items:?}");
        assert_eq!(items.len(), 4);
    }

    #[test]
    fn spans_point_at_values() {
        let text = "name: acme\npairs:\n  - name: prod\n    limit: 10\n";
        let root = parse(text).unwrap();
        let name = root.pointer("/pairs/0/name").unwrap();
        assert_eq!(&text[name.span.clone()], "prod");
        let limit = root.pointer("/pairs/0/limit").unwrap();
        assert_eq!(limit.value, Value::Int(10));
        assert_eq!(&text[limit.span.clone()], "10");
    }

    #[test]
    fn spans_are_bytes_for_non_ascii_text() {
        let text = "name: \"é€\"\nother: x\n";
        let root = parse(text).unwrap();
        assert_eq!(&text[root.pointer("/other").unwrap().span.clone()], "x");
    }

    #[test]
    fn duplicate_keys_are_all_reported() {
        let errors = parse("a: 1\nb: 2\na: 3\nb: 4\n").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].line, errors[0].column), (3, 1));
        assert!(errors[0].related.is_some());
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let errors = parse(&text).unwrap_err();
        assert!(errors[0].message.contains("alias bomb"), "{}", errors[0]);
    }

    #[test]
    fn aliases_copy_their_anchor() {
        let root = parse("base: &t [a, b]\nuse: *t\n").unwrap();
        assert_eq!(
            root.get("use").unwrap().to_json(),
            serde_json::json!(["a", "b"])
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(500), "]".repeat(500));
        let errors = parse(&text).unwrap_err();
        assert!(errors[0].message.contains("nesting") || errors[0].message.contains("invalid"));
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let errors = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(errors[0].message.starts_with("invalid YAML"));
        assert!(errors[0].line >= 1);
    }

    #[test]
    fn a_second_document_is_an_error() {
        let errors = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(errors[0].message.contains("second"));
    }

    #[test]
    fn reads_the_nylas_contract() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/nylas-openapi/nylas-v3-migration.openapi.yaml"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipping: {path} is absent");
            return;
        };
        let spec: serde_json::Value = crate::yaml::from_str(&text).unwrap();
        assert_eq!(spec["openapi"], "3.1.0");
        assert!(spec["paths"]["/v3/grants"]["get"]["parameters"].is_array());
    }
}
