//! The Nylas v3 contract as JSON Schema validators, for contract tests: responses by
//! operationId and status, request bodies and query parameters by operationId.
//!
//! The contract is read from `$NYLAS_OPENAPI`, or from `../shared/nylas-openapi/` beside the
//! repository; where neither exists, `Contract::load` prints that it is skipping and returns
//! `None` (under CI, where `CI` is set, it fails instead). It is parsed with the project's YAML parser (`nylas_migrate::yaml`), and `$ref`s are
//! resolved by validating against the whole document with a root `$ref` to the wanted schema.
//!
//! The published contract contradicts itself in three places; `load` relaxes them in memory
//! (never in the file) and says so:
//! - `translate_v2v3_id` requires `ids` but, with `additionalProperties: false`, does not allow
//!   it: `ids` is added to its properties as an array of strings.
//! - `get-webhook-by-id`'s 200 lists fewer trigger types than create and update accept: it uses
//!   the shared `trigger_types` schema instead.
//! - `pubsub_input_payload` (the body of `create-pubsub-channel`) requires `webhook_url`, which
//!   is not one of its properties, and does not require `topic` (the contract's README lists
//!   this defect): no request Nylas's own examples send could validate. Its `required` becomes
//!   `trigger_types` and `topic`, exactly that.
//!
//! The contract's other known defect around channels, the paused status spelt `paused` in the
//! list responses and `pause` everywhere else, needs no relaxing: the simulator answers each
//! operation in its own schema's spelling and the client reads both.

use std::path::PathBuf;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

pub struct Contract {
    spec: Value,
    /// Validators built so far, by schema pointer: building one compiles the whole spec.
    cache: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Validator>>>,
}

/// Where the contract is, if anywhere.
pub fn contract_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NYLAS_OPENAPI") {
        return Some(PathBuf::from(path));
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/nylas-openapi/nylas-v3-migration.openapi.yaml");
    beside.exists().then_some(beside)
}

/// A JSON pointer as a URI fragment: `{` and `}` (path templates) must be percent-encoded.
fn fragment(pointer: &str) -> String {
    let mut out = String::from("#");
    for c in pointer.chars() {
        match c {
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    /// The contract, or `None` (after printing why) when it is not available.
    /// Under CI (`CI` set) a missing contract is a failure, as a missing PostgreSQL is: a
    /// contract test that skipped there would prove nothing.
    pub fn load() -> Option<Contract> {
        let skip = |why: String| {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("under CI every contract test must run: {why}");
            }
            eprintln!("skipping contract test: {why}");
        };
        let Some(path) = contract_path() else {
            skip("no contract (set NYLAS_OPENAPI or provide ../shared/nylas-openapi/nylas-v3-migration.openapi.yaml)".into());
            return None;
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                skip(format!("cannot read {}: {err}", path.display()));
                return None;
            }
        };
        let mut spec: Value = nylas_migrate::yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        relax_known_contradictions(&mut spec);
        Some(Contract {
            spec,
            cache: Default::default(),
        })
    }

    pub fn spec(&self) -> &Value {
        &self.spec
    }

    /// `(path, method)` of an operation.
    pub fn find_operation(&self, operation_id: &str) -> Option<(String, String)> {
        let paths = self.spec.get("paths")?.as_object()?;
        for (path, item) in paths {
            for (method, op) in item.as_object()? {
                if op.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                    return Some((path.clone(), method.clone()));
                }
            }
        }
        None
    }

    fn operation_pointer(&self, operation_id: &str) -> Option<String> {
        let (path, method) = self.find_operation(operation_id)?;
        Some(format!("/paths/{}/{}", escape(&path), method))
    }

    fn pointer(&self, pointer: &str) -> Option<&Value> {
        self.spec.pointer(pointer)
    }

    /// Follows a `$ref` inside the spec (`#/components/...`) to its JSON pointer.
    fn follow(&self, pointer: String) -> Option<String> {
        let value = self.pointer(&pointer)?;
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => Some(reference.strip_prefix('#')?.to_string()),
            None => Some(pointer),
        }
    }

    /// A validator for the schema at `pointer`, with every `$ref` of the spec resolvable.
    pub fn validator_at(&self, pointer: &str) -> Result<Validator, String> {
        if self.pointer(pointer).is_none() {
            return Err(format!("no schema at #{pointer}"));
        }
        let mut root = self.spec.clone();
        if let Some(obj) = root.as_object_mut() {
            obj.insert("$ref".into(), Value::String(fragment(pointer)));
        }
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .build(&root)
            .map_err(|e| format!("cannot build a validator for #{pointer}: {e}"))
    }

    fn cached_validator(&self, pointer: &str) -> Result<std::sync::Arc<Validator>, String> {
        if let Some(v) = self.cache.lock().unwrap().get(pointer) {
            return Ok(v.clone());
        }
        let validator = std::sync::Arc::new(self.validator_at(pointer)?);
        self.cache
            .lock()
            .unwrap()
            .insert(pointer.to_string(), validator.clone());
        Ok(validator)
    }

    /// The pointer to the response schema of `operation_id` for `status`, if the contract
    /// declares that status.
    pub fn response_schema_pointer(&self, operation_id: &str, status: u16) -> Option<String> {
        let op = self.operation_pointer(operation_id)?;
        let response = self.follow(format!("{op}/responses/{status}"))?;
        let schema = format!("{response}/content/application~1json/schema");
        self.pointer(&schema).map(|_| schema)
    }

    /// The schema a response of `operation_id` with `status` must match. A status the operation
    /// does not declare (401 on webhooks, 429, 5xx, 405) maps to the contract's shared error
    /// schema, the shape every Nylas error has.
    fn answer_schema_pointer(
        &self,
        operation_id: Option<&str>,
        status: u16,
    ) -> Result<String, String> {
        operation_id
            .and_then(|op| self.response_schema_pointer(op, status))
            .or_else(|| {
                (status >= 400).then(|| {
                    let specific = format!("/components/schemas/{status}");
                    if self.pointer(&specific).is_some() {
                        specific
                    } else {
                        "/components/schemas/400".to_string()
                    }
                })
            })
            .ok_or_else(|| {
                format!(
                    "{} does not declare status {status}",
                    operation_id.unwrap_or("(no operation)")
                )
            })
    }

    /// Validates a response body against `answer_schema_pointer`'s schema.
    pub fn validate_response(
        &self,
        operation_id: Option<&str>,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let pointer = self.answer_schema_pointer(operation_id, status)?;
        let validator = self.cached_validator(&pointer)?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} {status} body does not match #{pointer}: {}\nbody: {body}",
                operation_id.unwrap_or("(no operation)"),
                errors.join("; ")
            ))
        }
    }

    /// Every property the response schema lists (required or not, recursively through objects,
    /// arrays and `$ref`s) that `body` lacks, as paths like `data.branding.name` or
    /// `data[].scope`. `may_be_absent` names `(component schema, property)` pairs the answer
    /// may leave out; for `oneOf`/`anyOf` the body must be complete for one branch.
    pub fn missing_fields(
        &self,
        operation_id: Option<&str>,
        status: u16,
        body: &Value,
        may_be_absent: &[(&str, &str)],
    ) -> Result<Vec<String>, String> {
        let pointer = self.answer_schema_pointer(operation_id, status)?;
        let schema = self
            .pointer(&pointer)
            .ok_or_else(|| format!("no schema at #{pointer}"))?;
        let mut missing = Vec::new();
        self.walk_fields(schema, None, body, "", may_be_absent, &mut missing, 0);
        Ok(missing)
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_fields(
        &self,
        schema: &Value,
        owner: Option<&str>,
        instance: &Value,
        path: &str,
        may_be_absent: &[(&str, &str)],
        missing: &mut Vec<String>,
        depth: usize,
    ) {
        assert!(depth < 64, "schema recursion too deep at {path}");
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = reference.trim_start_matches('#');
            let target = self
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolvable $ref {reference}"));
            let name = pointer.strip_prefix("/components/schemas/");
            self.walk_fields(
                target,
                name,
                instance,
                path,
                may_be_absent,
                missing,
                depth + 1,
            );
            return;
        }
        for all in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.walk_fields(
                all,
                owner,
                instance,
                path,
                may_be_absent,
                missing,
                depth + 1,
            );
        }
        let branches = ["oneOf", "anyOf"]
            .iter()
            .filter_map(|k| schema.get(*k).and_then(Value::as_array))
            .flatten();
        let mut best: Option<Vec<String>> = None;
        for branch in branches {
            let mut found = Vec::new();
            self.walk_fields(
                branch,
                owner,
                instance,
                path,
                may_be_absent,
                &mut found,
                depth + 1,
            );
            if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                best = Some(found);
            }
        }
        missing.extend(best.unwrap_or_default());
        if let (Some(properties), Some(object)) = (
            schema.get("properties").and_then(Value::as_object),
            instance.as_object(),
        ) {
            for (name, sub) in properties {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match object.get(name) {
                    Some(value) => self.walk_fields(
                        sub,
                        None,
                        value,
                        &child,
                        may_be_absent,
                        missing,
                        depth + 1,
                    ),
                    None => {
                        let excused = may_be_absent
                            .iter()
                            .any(|(schema, property)| Some(*schema) == owner && property == name);
                        if !excused {
                            missing.push(child);
                        }
                    }
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), instance.as_array()) {
            for item in array {
                self.walk_fields(
                    items,
                    None,
                    item,
                    &format!("{path}[]"),
                    may_be_absent,
                    missing,
                    depth + 1,
                );
            }
        }
    }

    /// Checks a request against the contract: method and path, path parameters, query
    /// parameters (each declared, each of its declared type) and JSON body (present exactly
    /// when the contract has one, and valid against it).
    ///
    /// `create_connector`'s `oneOf` cannot hold for any body (every provider's branch types
    /// `provider` as a plain string, so a body matches several branches at once): its body is
    /// checked against the one branch whose `provider` example names the body's provider.
    pub fn check_request(&self, record: &SentRequest) -> Result<(), String> {
        let contract = self;
        let op_id = record.operation_id;
        let what = format!("{op_id} {} {}", record.method, record.path);
        let (template, method) = contract
            .find_operation(op_id)
            .ok_or_else(|| format!("{what}: not in the contract"))?;
        if !method.eq_ignore_ascii_case(record.method) {
            return Err(format!("{what}: the contract's method is {method}"));
        }
        let op_pointer = format!(
            "/paths/{}/{method}",
            template.replace('~', "~0").replace('/', "~1")
        );

        // The path: the template's literal segments, and each parameter in its place.
        let sent: Vec<&str> = record.path.trim_start_matches('/').split('/').collect();
        let expected: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        if sent.len() != expected.len() {
            return Err(format!("{what}: does not match {template}"));
        }
        let mut params = record.path_params.iter();
        for (sent, expected) in sent.iter().zip(&expected) {
            if let Some(name) = expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let value = params
                    .next()
                    .ok_or_else(|| format!("{what}: no value for {{{name}}}"))?;
                if percent_decode(sent) != *value {
                    return Err(format!("{what}: {{{name}}} sent as {sent}, meant {value}"));
                }
                let pointer = parameter_schema(contract, &op_pointer, "path", name)
                    .ok_or_else(|| format!("{what}: no path parameter {name}"))?;
                validate(
                    contract,
                    &pointer,
                    &Value::String(value.clone()),
                    &format!("{what}: {{{name}}}"),
                )?;
            } else if sent != expected {
                return Err(format!("{what}: does not match {template}"));
            }
        }

        // The query: every name declared, every value of its declared type.
        let schema = contract
            .query_schema(op_id)
            .unwrap_or_else(|| json!({"properties": {}}));
        let declared = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut query = Map::new();
        for (name, value) in record.query {
            if !declared.contains_key(name) {
                return Err(format!(
                    "{what}: query parameter {name} is not in the contract"
                ));
            }
            let pointer = parameter_schema(contract, &op_pointer, "query", name)
                .ok_or_else(|| format!("{what}: no query parameter {name}"))?;
            let kind = contract
                .spec()
                .pointer(&pointer)
                .and_then(|s| s["type"].as_str())
                .unwrap_or("string");
            let typed = match kind {
                "integer" => value
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| format!("{what}: {name}={value} is not an integer"))?,
                "boolean" => value
                    .parse::<bool>()
                    .map(Value::from)
                    .map_err(|_| format!("{what}: {name}={value} is not a boolean"))?,
                "array" => {
                    let mut items = query
                        .get(name)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    items.push(Value::String(value.clone()));
                    Value::Array(items)
                }
                _ => Value::String(value.clone()),
            };
            query.insert(name.clone(), typed);
        }
        if let Some(validator) = contract.query_validator(op_id) {
            let validator = validator?;
            let query = Value::Object(query);
            let errors: Vec<String> = validator
                .iter_errors(&query)
                .map(|e| e.to_string())
                .collect();
            if !errors.is_empty() {
                return Err(format!(
                    "{what}: query {query} breaks the contract: {}",
                    errors.join("; ")
                ));
            }
        }

        // The body: present exactly when the contract has one, and valid against it.
        match (contract.request_body_validator(op_id), record.body) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(format!("{what}: sends a body the contract does not have")),
            (Some(_), None) => {
                let required = contract
                    .spec()
                    .pointer(&format!("{op_pointer}/requestBody/required"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if required {
                    Err(format!("{what}: sends no body, the contract requires one"))
                } else {
                    Ok(())
                }
            }
            (Some(_), Some(body)) if op_id == "create_connector" => {
                // See above: the branch whose `provider` example names the body's provider.
                let branches =
                    format!("{op_pointer}/requestBody/content/application~1json/schema/oneOf");
                let count = contract
                    .spec()
                    .pointer(&branches)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let branch = (0..count)
                    .find(|i| {
                        contract
                            .spec()
                            .pointer(&format!("{branches}/{i}/properties/provider/example"))
                            == Some(&body["provider"])
                    })
                    .ok_or_else(|| {
                        format!(
                            "{what}: no connector branch for provider {}",
                            body["provider"]
                        )
                    })?;
                validate(contract, &format!("{branches}/{branch}"), body, &what)
            }
            (Some(validator), Some(body)) => {
                let validator = validator?;
                let errors: Vec<String> =
                    validator.iter_errors(body).map(|e| e.to_string()).collect();
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{what}: body breaks the contract: {}",
                        errors.join("; ")
                    ))
                }
            }
        }
    }

    /// A validator for the JSON request body of `operation_id`, if it has one.
    pub fn request_body_validator(&self, operation_id: &str) -> Option<Result<Validator, String>> {
        let op = self.operation_pointer(operation_id)?;
        let body = self.follow(format!("{op}/requestBody"))?;
        let schema = format!("{body}/content/application~1json/schema");
        self.pointer(&schema)?;
        Some(self.validator_at(&schema))
    }

    /// The query parameters of `operation_id` as one object schema (`{name: schema}`, with the
    /// required ones required), for validating a query decoded into a JSON object.
    pub fn query_schema(&self, operation_id: &str) -> Option<Value> {
        let op = self.operation_pointer(operation_id)?;
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        let params = self
            .pointer(&format!("{op}/parameters"))?
            .as_array()?
            .clone();
        for (i, _) in params.iter().enumerate() {
            let pointer = self.follow(format!("{op}/parameters/{i}"))?;
            let param = self.pointer(&pointer)?;
            if param.get("in").and_then(Value::as_str) != Some("query") {
                continue;
            }
            let name = param.get("name")?.as_str()?.to_string();
            if param.get("required").and_then(Value::as_bool) == Some(true) {
                required.push(Value::String(name.clone()));
            }
            properties.insert(
                name,
                json!({"$ref": fragment(&format!("{pointer}/schema"))}),
            );
        }
        Some(json!({
            "type": "object",
            "properties": properties,
            "required": required,
        }))
    }

    /// A validator for `operation_id`'s query parameters (see `query_schema`).
    pub fn query_validator(&self, operation_id: &str) -> Option<Result<Validator, String>> {
        let schema = self.query_schema(operation_id)?;
        let mut root = self.spec.clone();
        let obj = root.as_object_mut()?;
        obj.insert("$defs".into(), json!({ "query": schema }));
        obj.insert("$ref".into(), Value::String("#/$defs/query".into()));
        Some(
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                .build(&root)
                .map_err(|e| format!("cannot build a query validator for {operation_id}: {e}")),
        )
    }
}

/// A request as it went out, for `Contract::check_request`.
pub struct SentRequest<'a> {
    pub operation_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The path parameters' values, decoded, in the template's order.
    pub path_params: &'a [String],
    /// Decoded name and value pairs, repeated names kept.
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
}

/// The JSON pointer of the schema of parameter `name` in `location` of the operation at
/// `op_pointer`, following a `$ref` to `#/components/parameters`. A parameter the path item
/// declares for all its operations (`/v3/applications/redirect-uris/{id}`) counts too; the
/// operation's own wins, as OpenAPI says.
fn parameter_schema(
    contract: &Contract,
    op_pointer: &str,
    location: &str,
    name: &str,
) -> Option<String> {
    let item_pointer = op_pointer.rsplit_once('/').map(|(item, _)| item)?;
    operation_parameter_schema(contract, op_pointer, location, name)
        .or_else(|| operation_parameter_schema(contract, item_pointer, location, name))
}

fn operation_parameter_schema(
    contract: &Contract,
    op_pointer: &str,
    location: &str,
    name: &str,
) -> Option<String> {
    let params = contract
        .spec()
        .pointer(&format!("{op_pointer}/parameters"))?
        .as_array()?;
    (0..params.len()).find_map(|i| {
        let mut pointer = format!("{op_pointer}/parameters/{i}");
        if let Some(reference) = contract
            .spec()
            .pointer(&pointer)?
            .get("$ref")
            .and_then(Value::as_str)
        {
            pointer = reference.strip_prefix('#')?.to_string();
        }
        let param = contract.spec().pointer(&pointer)?;
        (param["in"] == location && param["name"] == name).then(|| format!("{pointer}/schema"))
    })
}

fn validate(contract: &Contract, pointer: &str, value: &Value, what: &str) -> Result<(), String> {
    let validator = contract.validator_at(pointer)?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {value} breaks #{pointer}: {}",
            errors.join("; ")
        ))
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = segment
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Properties the contract lists but says an answer leaves out in stated cases, as
/// `(component schema, property)`, so that a complete answer may lack them:
/// - `GrantObject.email_aliases`: "Only returned if special query parameter `expose_aliases`
///   for Get Grant is used and set to `true`" (and omitted for consumer Microsoft accounts);
/// - `translate_v2v3_id.next_page_number`: "This field does not appear if there are no more
///   results".
///
/// Tests that know the request (`expose_aliases=true`, a page with more after it) check these
/// fields themselves.
pub const CONDITIONAL_FIELDS: [(&str, &str); 2] = [
    ("GrantObject", "email_aliases"),
    ("translate_v2v3_id", "next_page_number"),
];

fn relax_known_contradictions(spec: &mut Value) {
    if let Some(props) = spec.pointer_mut("/components/schemas/translate_v2v3_id/properties")
        && let Some(props) = props.as_object_mut()
        && !props.contains_key("ids")
    {
        props.insert(
            "ids".into(),
            json!({"type": "array", "items": {"type": "string"}}),
        );
        eprintln!(
            "contract: translate_v2v3_id requires `ids` without allowing it; allowing `ids` (array of strings)"
        );
    }
    if let Some(required) = spec.pointer_mut("/components/schemas/pubsub_input_payload/required")
        && required
            .as_array()
            .is_some_and(|r| r.contains(&json!("webhook_url")))
    {
        *required = json!(["trigger_types", "topic"]);
        eprintln!(
            "contract: pubsub_input_payload requires webhook_url (not one of its properties) and not topic; requiring trigger_types and topic"
        );
    }
    let by_id = "/components/responses/get_by_id_200/content/application~1json/schema/properties/data/properties/trigger_types";
    if let Some(triggers) = spec.pointer_mut(by_id) {
        *triggers = json!({"$ref": "#/components/schemas/trigger_types"});
        eprintln!(
            "contract: get-webhook-by-id lists fewer trigger types than create/update accept; using the shared trigger_types"
        );
    }
}
