//! The semantic rules: what a schema cannot say about a plan.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use super::diagnostic::PlanDiagnostic;
use super::lookup::Lookup;
use super::model::{
    ConnectorFix, ConnectorSettings, Pair, RedirectUriSettings, SecretRef, SettingValue,
};
use super::suggest::did_you_mean;
use super::triggers;
use super::trust::{self, ALLOW_API_HOSTS_VAR, ALLOW_SECRET_DIRS_VAR, Trust};
use super::words::{all_of, either};
use crate::api::forms;
use crate::api::{ConnectorProvider, RedirectPlatform, Region, TestTriggerType, TriggerType};
use crate::code::Code;
use crate::yaml::{Node, Value};

/// Every semantic problem in a plan, even one with schema errors: rules across pairs read the
/// tree leniently (a pair whose name is malformed is just not compared), and rules within a
/// pair run on every pair that fits the model (`pairs` holds them with their index).
pub fn check(
    root: &Node,
    pairs: &[(usize, Pair)],
    trust: &Trust,
    plan_dir: &Path,
) -> Vec<PlanDiagnostic> {
    let views = PairView::all(root);
    let mut rules = Rules {
        root,
        lookup: Lookup::new(root),
        out: Vec::new(),
    };
    rules.unique_across_pairs(&views);
    rules.after_references(&views);
    rules.after_cycles(&views);
    rules.region_urls(trust);
    for (i, pair) in pairs {
        rules.within_pair(*i, pair);
        rules.secret_files(*i, pair, trust, plan_dir);
    }
    rules.state_file(trust, plan_dir);
    rules.out
}

/// What the cross-pair rules need of a pair, read from the tree without requiring the pair to
/// be valid.
struct PairView<'a> {
    index: usize,
    name: Option<&'a str>,
    v2_app_id: Option<&'a str>,
    v3_app_id: Option<&'a str>,
    /// Pair names in `after`, with their position in that list.
    after: Vec<(usize, &'a str)>,
    /// Accounts in `clone.single`, with their position.
    accounts: Vec<(usize, &'a str)>,
}

impl<'a> PairView<'a> {
    fn all(root: &'a Node) -> Vec<PairView<'a>> {
        let Some(Value::Seq(pairs)) = root.get("pairs").map(|n| &n.value) else {
            return Vec::new();
        };
        pairs
            .iter()
            .enumerate()
            .map(|(index, pair)| PairView {
                index,
                name: pair.get("name").and_then(Node::as_str),
                v2_app_id: pair.pointer("/v2/app_id").and_then(Node::as_str),
                v3_app_id: pair.pointer("/v3/app_id").and_then(Node::as_str),
                after: strings(pair.get("after")),
                accounts: strings(pair.pointer("/clone/single")),
            })
            .collect()
    }
}

fn strings(node: Option<&Node>) -> Vec<(usize, &str)> {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_str().map(|s| (i, s)))
            .collect(),
        _ => Vec::new(),
    }
}

struct Rules<'a> {
    root: &'a Node,
    /// For [`Rules::span`], which every diagnostic calls.
    lookup: Lookup<'a>,
    out: Vec<PlanDiagnostic>,
}

impl Rules<'_> {
    /// The span of the node at `pointer`, or of its closest existing ancestor.
    fn span(&self, pointer: &str) -> Range<usize> {
        let mut p = pointer;
        loop {
            if let Some(node) = self.lookup.pointer(p) {
                return node.span.clone();
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.root.span.clone(),
            }
        }
    }

    /// Reports each value that repeats an earlier one, pointing at both.
    fn unique<'v>(
        &mut self,
        code: Code,
        what: &str,
        values: impl IntoIterator<Item = (String, &'v str)>,
        help: Option<&str>,
    ) {
        self.unique_by(
            code,
            what,
            values
                .into_iter()
                .map(|(pointer, value)| (pointer, value.to_owned(), value)),
            help,
        );
    }

    /// Reports each item whose key repeats an earlier one's, pointing at both: items are
    /// (pointer, key compared, text shown).
    fn unique_by<'v>(
        &mut self,
        code: Code,
        what: &str,
        items: impl IntoIterator<Item = (String, String, &'v str)>,
        help: Option<&str>,
    ) {
        let mut first: HashMap<String, (String, &str)> = HashMap::new();
        for (pointer, key, shown) in items {
            match first.get(&key) {
                Some((earlier, earlier_shown)) => {
                    let mut d = PlanDiagnostic::new(
                        code,
                        self.span(&pointer),
                        format!("duplicate {what} `{}`", short(shown)),
                    )
                    .label("repeated here")
                    .related("first used here", self.span(earlier));
                    let same_text = *earlier_shown == shown;
                    let help = match (help, same_text) {
                        (Some(help), true) => Some(help.to_owned()),
                        (help, false) => Some(format!(
                            "`{}` and `{}` are one URL as Nylas stores it (scheme and host in lower case, `/` for an empty path){}",
                            short(shown),
                            short(earlier_shown),
                            help.map(|h| format!("; {h}")).unwrap_or_default()
                        )),
                        (None, true) => None,
                    };
                    if let Some(help) = help {
                        d = d.help(help);
                    }
                    self.out.push(d);
                }
                None => {
                    first.insert(key, (pointer, shown));
                }
            }
        }
    }

    fn unique_across_pairs(&mut self, views: &[PairView<'_>]) {
        self.unique(
            Code::PlanDuplicatePairName,
            "pair name",
            views
                .iter()
                .filter_map(|p| Some((format!("/pairs/{}/name", p.index), p.name?))),
            Some("pair names identify steps and journal entries, so each must be unique"),
        );
        self.unique(
            Code::PlanDuplicateV2App,
            "v2 app ID",
            views
                .iter()
                .filter_map(|p| Some((format!("/pairs/{}/v2/app_id", p.index), p.v2_app_id?))),
            Some("a v2 application can be migrated by one pair only"),
        );
        self.unique(
            Code::PlanDuplicateV3App,
            "v3 app ID",
            views
                .iter()
                .filter_map(|p| Some((format!("/pairs/{}/v3/app_id", p.index), p.v3_app_id?))),
            Some("a v3 application can be linked to one v2 application only"),
        );
        // Repeats within one pair are reported by the pair's own rule; here only accounts that
        // appear in two different pairs.
        let mut owner: HashMap<&str, (usize, usize)> = HashMap::new();
        for view in views {
            let mut seen_here = std::collections::HashSet::new();
            for &(j, account) in &view.accounts {
                if !seen_here.insert(account) {
                    continue;
                }
                match owner.get(account) {
                    Some(&(other, k)) if other != view.index => {
                        self.out.push(
                            PlanDiagnostic::new(
                                Code::PlanAccountInTwoPairs,
                                self.span(&format!("/pairs/{}/clone/single/{j}", view.index)),
                                format!("account `{account}` is listed in two pairs"),
                            )
                            .label("listed again here")
                            .related("first listed here", self.span(&format!("/pairs/{other}/clone/single/{k}")))
                            .help("a v2 account belongs to one v2 application, so only one pair can clone it"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        owner.insert(account, (view.index, j));
                    }
                }
            }
        }
    }

    fn after_references(&mut self, views: &[PairView<'_>]) {
        let names: Vec<&str> = views.iter().filter_map(|p| p.name).collect();
        // A set, and help for only the first few unknown names (a person fixes those, then
        // validates again): with thousands of pairs each naming an unknown one, searching and
        // suggesting among all names for each was quadratic in time and in the help's size.
        let known: HashSet<&str> = names.iter().copied().collect();
        let mut unknown = 0;
        for view in views {
            let i = view.index;
            for &(j, other) in &view.after {
                let pointer = format!("/pairs/{i}/after/{j}");
                if Some(other) == view.name {
                    self.out.push(
                        PlanDiagnostic::new(
                            Code::PlanAfterSelf,
                            self.span(&pointer),
                            format!("pair `{other}` cannot come after itself"),
                        )
                        .label("names its own pair"),
                    );
                } else if !known.contains(other) {
                    let mut d = PlanDiagnostic::new(
                        Code::PlanUnknownPair,
                        self.span(&pointer),
                        format!("`after` names `{other}`, which is not a pair in this plan"),
                    )
                    .label("no pair has this name");
                    unknown += 1;
                    if unknown <= SUGGESTED_UNKNOWN_PAIRS {
                        d = match did_you_mean(other, names.iter().copied()) {
                            Some(close) => d.help(format!("did you mean `{close}`?")),
                            None => d.help(pairs_in_plan(&names)),
                        };
                    }
                    self.out.push(d);
                }
            }
            let mut seen = HashMap::new();
            for &(j, other) in &view.after {
                if let Some(first) = seen.insert(other, j) {
                    self.out.push(
                        PlanDiagnostic::new(
                            Code::PlanDuplicateAfter,
                            self.span(&format!("/pairs/{i}/after/{j}")),
                            format!("`after` names `{other}` twice"),
                        )
                        .label("repeated here")
                        .related(
                            "first named here",
                            self.span(&format!("/pairs/{i}/after/{first}")),
                        ),
                    );
                }
            }
        }
    }

    fn after_cycles(&mut self, views: &[PairView<'_>]) {
        // With duplicate names the first pair of a name wins; the duplicate is reported anyway.
        let mut index: HashMap<&str, usize> = HashMap::new();
        for view in views.iter().rev() {
            if let Some(name) = view.name {
                index.insert(name, view.index);
            }
        }
        let mut graph = DiGraph::<usize, usize>::new();
        let nodes: Vec<_> = views.iter().map(|v| graph.add_node(v.index)).collect();
        for view in views {
            for &(j, other) in &view.after {
                if let Some(&o) = index.get(other)
                    && o != view.index
                {
                    graph.add_edge(nodes[view.index], nodes[o], j);
                }
            }
        }
        for component in tarjan_scc(&graph) {
            if component.len() < 2 {
                continue;
            }
            let mut members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
            members.sort_unstable();
            let cycle = cycle_through(views, &members, &index);
            if cycle.is_empty() {
                continue;
            }
            let names: Vec<&str> = cycle
                .iter()
                .map(|(p, _)| views[*p].name.unwrap_or_default())
                .collect();
            let shown = if names.len() <= SHOWN_CYCLE {
                format!("{} → {}", names.join(" → "), names[0])
            } else {
                // A cycle through thousands of pairs is named by its ends, not spelled out.
                format!(
                    "{} → … ({} more) → {} → {}",
                    names[..SHOWN_CYCLE - 1].join(" → "),
                    names.len() - SHOWN_CYCLE,
                    names[names.len() - 1],
                    names[0]
                )
            };
            let (first_pair, first_after) = cycle[0];
            let mut d = PlanDiagnostic::new(
                Code::PlanAfterCycle,
                self.span(&format!("/pairs/{first_pair}/after/{first_after}")),
                format!("`after` forms a cycle: {shown}"),
            )
            .label(format!("`{}` waits for `{}`", names[0], names.get(1).unwrap_or(&names[0])))
            .help("each pair in the cycle waits for another, so none could ever start: remove one of these `after` entries");
            for (k, (p, a)) in cycle.iter().enumerate().skip(1) {
                let next = names[(k + 1) % names.len()];
                d = d.related(
                    format!("`{}` waits for `{next}`", names[k]),
                    self.span(&format!("/pairs/{p}/after/{a}")),
                );
            }
            self.out.push(d);
        }
    }

    fn region_urls(&mut self, trust: &Trust) {
        for region in Region::ALL {
            let pointer = format!("/regions/{region}/api_url");
            let Some(api_url) = self.root.pointer(&pointer).and_then(Node::as_str) else {
                continue;
            };
            match check_api_url(api_url) {
                Err(problem) => self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadUrl,
                        self.span(&pointer),
                        format!("the {region} API URL {problem}"),
                    )
                    .label("not usable as an API base URL")
                    .help(format!(
                        "the default is {}; plain http is only allowed to a loopback address (a local simulator)",
                        region.default_api_url()
                    )),
                ),
                Ok(host) if !trust.allows_api_host(&host) => self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanApiHostNotAllowed,
                        self.span(&pointer),
                        format!(
                            "the {region} API URL sends the API keys to `{host}`, not a Nylas API host"
                        ),
                    )
                    .label(format!(
                        "not {} or a loopback address",
                        trust::nylas_hosts().join(", ")
                    ))
                    .help(format!(
                        "a plan cannot choose where its secrets go. If `{host}` is yours (a proxy, a staging endpoint), allow it outside the plan: \
                         `--allow-api-host {host}` or {ALLOW_API_HOSTS_VAR}={host} in the environment of the run"
                    )),
                ),
                Ok(_) => {}
            }
        }
    }

    /// The state URL's `{ file: }` stays in the plan's folder, as every secret file.
    fn state_file(&mut self, trust: &Trust, plan_dir: &Path) {
        const POINTER: &str = "/state/postgres/url/file";
        let Some(path) = self.root.pointer(POINTER).and_then(Node::as_str) else {
            return;
        };
        self.outside_plan_folder(POINTER.to_owned(), Path::new(path), trust, plan_dir);
    }

    /// `{ file: }` secrets stay in the plan's folder unless the run allows another.
    fn secret_files(&mut self, i: usize, pair: &Pair, trust: &Trust, plan_dir: &Path) {
        let mut files: Vec<(String, &Path)> = Vec::new();
        let base = format!("/pairs/{i}");
        if let SecretRef::File(path) = &pair.v2.client_secret {
            files.push((format!("{base}/v2/client_secret/file"), path));
        }
        if let SecretRef::File(path) = &pair.v3.api_key {
            files.push((format!("{base}/v3/api_key/file"), path));
        }
        for (j, connector) in pair.connectors.iter().enumerate() {
            let Some(settings) = &connector.settings else {
                continue;
            };
            let settings_ptr = format!("{base}/connectors/{j}/settings");
            if let Some(SettingValue::Secret(SecretRef::File(path))) = &settings.client_id {
                files.push((format!("{settings_ptr}/client_id/file"), path));
            }
            if let Some(SecretRef::File(path)) = &settings.client_secret {
                files.push((format!("{settings_ptr}/client_secret/file"), path));
            }
        }
        for (pointer, path) in files {
            self.outside_plan_folder(pointer, path, trust, plan_dir);
        }
    }

    fn outside_plan_folder(
        &mut self,
        pointer: String,
        path: &Path,
        trust: &Trust,
        plan_dir: &Path,
    ) {
        if trust.allows_secret_path(plan_dir, path) {
            return;
        }
        let shown = path.display().to_string();
        self.out.push(
            PlanDiagnostic::new(
                Code::PlanSecretFileOutside,
                self.span(&pointer),
                format!("the secret file `{shown}` is outside the plan's folder"),
            )
            .label("outside the plan's folder")
            .help(format!(
                "a plan cannot read files of its choosing from the machine that runs it. Keep the file beside the plan, or allow its folder outside the plan: \
                 `--allow-secret-dir DIR` or {ALLOW_SECRET_DIRS_VAR}=DIR in the environment of the run"
            )),
        );
    }

    fn within_pair(&mut self, i: usize, pair: &Pair) {
        let base = format!("/pairs/{i}");
        self.unique(
            Code::PlanDuplicateConnector,
            "connector for provider",
            pair.connectors.iter().enumerate().map(|(j, c)| {
                (
                    format!("{base}/connectors/{j}/provider"),
                    c.provider.as_str(),
                )
            }),
            Some("a v3 application has one connector per provider: merge the two entries"),
        );
        self.unique_by(
            Code::PlanDuplicateWebhook,
            "webhook URL",
            pair.webhooks.iter().enumerate().map(|(j, w)| {
                (
                    format!("{base}/webhooks/{j}/url"),
                    forms::normalized_url(&w.url),
                    w.url.as_str(),
                )
            }),
            Some("a URL identifies a webhook destination: merge their triggers into one entry"),
        );
        self.unique(
            Code::PlanDuplicateAccount,
            "account",
            pair.clone
                .single
                .iter()
                .enumerate()
                .map(|(j, a)| (format!("{base}/clone/single/{j}"), a.as_str())),
            None,
        );
        self.unique(
            Code::PlanDuplicateWave,
            "wave name",
            pair.clone
                .batches
                .iter()
                .enumerate()
                .map(|(j, w)| (format!("{base}/clone/batches/{j}/name"), w.name.as_str())),
            Some("a wave's name identifies its batch job in the journal"),
        );
        for (j, webhook) in pair.webhooks.iter().enumerate() {
            self.distinct_triggers(&format!("{base}/webhooks/{j}"), &webhook.triggers);
            if let Err(problem) = check_webhook_url(&webhook.url) {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadUrl,
                        self.span(&format!("{base}/webhooks/{j}/url")),
                        format!("the webhook URL {problem}"),
                    )
                    .label("not a usable webhook URL")
                    .help("Nylas sends notifications to an absolute https URL, such as https://hooks.example.com/nylas"),
                );
            }
            if let Some(test) = webhook.test {
                self.webhook_test(&format!("{base}/webhooks/{j}"), test, &webhook.triggers);
            }
        }
        self.channels(&base, pair);
        self.empty_values(&base, pair);
        self.redirect_uris(&base, pair);
        for (j, connector) in pair.connectors.iter().enumerate() {
            self.connector_settings(
                &format!("{base}/connectors/{j}"),
                connector.provider,
                connector,
            );
        }
        if pair.clone.gate.is_some() && pair.clone.batches.len() < 2 {
            self.out.push(
                PlanDiagnostic::new(
                    Code::PlanGateWithoutWaves,
                    self.span(&format!("{base}/clone/gate")),
                    "a gate stops the waves after a failing one, but this pair has fewer than two waves",
                )
                .label("nothing for this gate to stop")
                .help("add the waves it should guard under `clone.batches`, or remove the gate"),
            );
        }
    }

    /// A webhook's `test:` names one of its own triggers: a test event of any other is one the
    /// endpoint never gets otherwise, so its acknowledgement would prove nothing.
    fn webhook_test(&mut self, pointer: &str, test: TestTriggerType, own: &[TriggerType]) {
        let stands_for = triggers::tested_trigger(test);
        if stands_for.is_some_and(|t| own.contains(&t)) {
            return;
        }
        let candidates = triggers::testable(own);
        let mut help = match stands_for {
            Some(t) if t.as_str() != test.as_str() => {
                format!("a `{test}` test event is sent for `{t}`: add `{t}` to `triggers`")
            }
            Some(t) => format!("add `{t}` to `triggers`"),
            None => "add the trigger to `triggers`".to_owned(),
        };
        if !candidates.is_empty() {
            help.push_str(&format!(", or test one of them: {}", either(&candidates)));
        }
        self.out.push(
            PlanDiagnostic::new(
                Code::PlanTestTriggerNotSubscribed,
                self.span(&format!("{pointer}/test")),
                format!("`test: {test}` is not one of this webhook's triggers"),
            )
            .label("not subscribed by this webhook")
            .related(
                "the webhook's triggers",
                self.span(&format!("{pointer}/triggers")),
            )
            .help(help),
        );
    }

    /// Pub/Sub and SNS channels: topic and role forms, one channel per topic, at most five
    /// Pub/Sub channels, distinct triggers.
    fn channels(&mut self, base: &str, pair: &Pair) {
        for (j, channel) in pair.pubsub.iter().enumerate() {
            let pointer = format!("{base}/pubsub/{j}");
            if let Err(problem) = forms::check_pubsub_topic(&channel.topic) {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadPubsubTopic,
                        self.span(&format!("{pointer}/topic")),
                        format!("`{}` is not a Pub/Sub topic name", short(&channel.topic)),
                    )
                    .label("not projects/<project>/topics/<topic>")
                    .help(format!(
                        "{}; write the topic's full name, such as projects/acme-prod/topics/nylas-events",
                        reason(&channel.topic, problem, "a Pub/Sub topic has the form projects/<project>/topics/<topic>")
                    )),
                );
            }
            self.distinct_triggers(&pointer, &channel.triggers);
        }
        if pair.pubsub.len() > MAX_PUBSUB_CHANNELS {
            self.out.push(
                PlanDiagnostic::new(
                    Code::PlanTooManyPubsubChannels,
                    self.span(&format!("{base}/pubsub/{MAX_PUBSUB_CHANNELS}")),
                    format!(
                        "{} Pub/Sub channels for one application; Nylas allows at most {MAX_PUBSUB_CHANNELS}",
                        pair.pubsub.len()
                    ),
                )
                .label(format!("channel {} of at most {MAX_PUBSUB_CHANNELS}", MAX_PUBSUB_CHANNELS + 1))
                .help("one channel takes any number of triggers: merge channels that can share a topic, or move some to webhooks or SNS (channels created outside this plan count too)"),
            );
        }
        self.unique(
            Code::PlanDuplicatePubsubTopic,
            "Pub/Sub topic",
            pair.pubsub
                .iter()
                .enumerate()
                .map(|(j, c)| (format!("{base}/pubsub/{j}/topic"), c.topic.as_str())),
            Some("a topic identifies a Pub/Sub channel: merge their triggers into one entry"),
        );
        for (j, channel) in pair.sns.iter().enumerate() {
            let pointer = format!("{base}/sns/{j}");
            if let Err(problem) = forms::check_sns_topic_arn(&channel.topic) {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadSnsTopic,
                        self.span(&format!("{pointer}/topic")),
                        format!("`{}` is not an SNS topic ARN", short(&channel.topic)),
                    )
                    .label("not arn:aws:sns:<region>:<account-id>:<topic>")
                    .help(format!(
                        "{}; copy the topic's ARN from the SNS console, such as arn:aws:sns:us-east-1:123456789012:nylas-events",
                        reason(&channel.topic, problem, "an SNS topic is an ARN of the form arn:aws:sns:<region>:<account-id>:<topic>")
                    )),
                );
            }
            if let Err(problem) = forms::check_iam_role_arn(&channel.role_arn) {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadRoleArn,
                        self.span(&format!("{pointer}/role_arn")),
                        format!("`{}` is not an IAM role ARN", short(&channel.role_arn)),
                    )
                    .label("not arn:aws:iam::<account-id>:role/<role-name>")
                    .help(format!(
                        "{}; name the role Nylas assumes to publish to the topic, such as arn:aws:iam::123456789012:role/nylas-publisher",
                        reason(&channel.role_arn, problem, "role_arn has the form arn:aws:iam::<account-id>:role/<role-name>")
                    )),
                );
            }
            self.distinct_triggers(&pointer, &channel.triggers);
        }
        self.unique(
            Code::PlanDuplicateSnsTopic,
            "SNS topic",
            pair.sns
                .iter()
                .enumerate()
                .map(|(j, c)| (format!("{base}/sns/{j}/topic"), c.topic.as_str())),
            Some("a topic identifies an SNS channel: merge their triggers into one entry"),
        );
    }

    /// Optional values written empty (`description: ""`, `notification_emails: []`, ...). An
    /// update cannot be trusted to apply one: the contract says a webhook update keeps a field
    /// sent empty, says nothing for the others, and an empty redirect URI setting reads as none.
    /// Such an entry would never match a destination that has the field, so every apply would
    /// write it again and `plan` would never settle. Left out, the key leaves the live value as
    /// it is.
    fn empty_values(&mut self, base: &str, pair: &Pair) {
        let mut found: Vec<(String, EmptyValue)> = Vec::new();
        let notifications = (pair
            .webhooks
            .iter()
            .map(|w| (w.description.as_deref(), w.notification_emails.as_deref())))
        .enumerate()
        .map(|(j, v)| (format!("{base}/webhooks/{j}"), v))
        .chain(
            (pair
                .pubsub
                .iter()
                .map(|c| (c.description.as_deref(), c.notification_emails.as_deref())))
            .enumerate()
            .map(|(j, v)| (format!("{base}/pubsub/{j}"), v)),
        )
        .chain(
            (pair
                .sns
                .iter()
                .map(|c| (c.description.as_deref(), c.notification_emails.as_deref())))
            .enumerate()
            .map(|(j, v)| (format!("{base}/sns/{j}"), v)),
        );
        for (pointer, (description, emails)) in notifications {
            if description == Some("") {
                found.push((format!("{pointer}/description"), EmptyValue::Description));
            }
            if emails.is_some_and(<[String]>::is_empty) {
                found.push((format!("{pointer}/notification_emails"), EmptyValue::Emails));
            }
        }
        for (j, uri) in pair.redirect_uris.iter().enumerate() {
            let Some(settings) = &uri.settings else {
                continue;
            };
            for (key, value) in [
                ("app_store_id", &settings.app_store_id),
                ("team_id", &settings.team_id),
            ] {
                if value.as_deref() == Some("") {
                    found.push((
                        format!("{base}/redirect_uris/{j}/settings/{key}"),
                        EmptyValue::RedirectSetting(key),
                    ));
                }
            }
        }
        for (j, connector) in pair.connectors.iter().enumerate() {
            let pointer = format!("{base}/connectors/{j}");
            if connector.scope.as_deref().is_some_and(<[String]>::is_empty) {
                found.push((format!("{pointer}/scope"), EmptyValue::Scope));
            }
            let Some(settings) = &connector.settings else {
                continue;
            };
            if matches!(
                settings,
                ConnectorSettings {
                    client_id: None,
                    client_secret: None,
                    tenant: None,
                    topic_name: None,
                }
            ) {
                found.push((format!("{pointer}/settings"), EmptyValue::ConnectorSettings));
                continue;
            }
            let client_id = match &settings.client_id {
                Some(SettingValue::Literal(id)) => Some(id.as_str()),
                _ => None,
            };
            for (key, value) in [
                ("client_id", client_id),
                ("tenant", settings.tenant.as_deref()),
                ("topic_name", settings.topic_name.as_deref()),
            ] {
                if value == Some("") {
                    found.push((
                        format!("{pointer}/settings/{key}"),
                        EmptyValue::ConnectorSetting(key),
                    ));
                }
            }
        }
        for (pointer, what) in found {
            let key = what.key();
            self.out.push(
                PlanDiagnostic::new(
                    Code::PlanEmptyValue,
                    self.span(&pointer),
                    format!("`{key}` is empty"),
                )
                .label("an empty value cannot be applied")
                .help(what.help()),
            );
        }
    }

    /// A destination subscribes to each trigger once.
    fn distinct_triggers(&mut self, pointer: &str, triggers: &[TriggerType]) {
        self.unique(
            Code::PlanDuplicateTrigger,
            "trigger",
            triggers
                .iter()
                .enumerate()
                .map(|(k, t)| (format!("{pointer}/triggers/{k}"), t.as_str())),
            Some("a destination subscribes to each trigger once: remove the repeat"),
        );
    }

    /// Redirect URIs: a usable URL for the platform, one entry per URL, and only the platform's
    /// own settings, with those it requires.
    fn redirect_uris(&mut self, base: &str, pair: &Pair) {
        self.unique_by(
            Code::PlanDuplicateRedirectUri,
            "redirect URI",
            pair.redirect_uris.iter().enumerate().map(|(j, r)| {
                (
                    format!("{base}/redirect_uris/{j}/url"),
                    forms::normalized_url(&r.url),
                    r.url.as_str(),
                )
            }),
            Some("a URL identifies a redirect URI (one platform each): keep one entry"),
        );
        for (j, uri) in pair.redirect_uris.iter().enumerate() {
            let pointer = format!("{base}/redirect_uris/{j}");
            let platform = uri.platform;
            if let Err(problem) = check_redirect_url(&uri.url, platform) {
                let mobile = matches!(platform, RedirectPlatform::Ios | RedirectPlatform::Android);
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanBadUrl,
                        self.span(&format!("{pointer}/url")),
                        format!("the {platform} redirect URI {problem}"),
                    )
                    .label("not a usable redirect URI")
                    .help(if mobile {
                        format!("a {platform} redirect URI is an https URL (plain http only for localhost) or a deep link, such as com.acme.app://oauth/callback")
                    } else {
                        format!("a {platform} redirect URI is an absolute https URL (plain http only for localhost), such as https://app.acme.example/oauth/callback")
                    }),
                );
            }
            self.redirect_settings(&pointer, platform, uri.settings.as_ref());
        }
    }

    fn redirect_settings(
        &mut self,
        pointer: &str,
        platform: RedirectPlatform,
        settings: Option<&RedirectUriSettings>,
    ) {
        let Some(settings) = settings else {
            return;
        };
        let settings_ptr = format!("{pointer}/settings");
        for &(key, owner, _, present) in REDIRECT_SETTINGS {
            if present(settings) && owner != platform {
                let d = PlanDiagnostic::new(
                    Code::PlanSettingNotForPlatform,
                    self.span(&format!("{settings_ptr}/{key}")),
                    format!(
                        "`{key}` is {} setting, not {} one",
                        with_article(owner),
                        with_article(platform)
                    ),
                )
                .label(format!("not used by {platform} redirect URIs"));
                let own: Vec<&str> = REDIRECT_SETTINGS
                    .iter()
                    .filter(|(_, p, _, _)| *p == platform)
                    .map(|(k, _, _, _)| *k)
                    .collect();
                self.out.push(if own.is_empty() {
                    d.help(format!(
                        "{platform} redirect URIs have no settings: remove `settings`, or set `platform: {owner}` if the URI is for {} app",
                        with_article(owner)
                    ))
                } else {
                    d.help(format!(
                        "{platform} redirect URIs take {}: remove `{key}`, or set `platform: {owner}` if the URI is for {} app",
                        all_of(&own),
                        with_article(owner)
                    ))
                });
            }
        }
        for &(key, owner, required, present) in REDIRECT_SETTINGS {
            if owner == platform && required && !present(settings) {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanMissingKey,
                        self.span(&settings_ptr),
                        format!("{platform} redirect URI settings need `{key}`"),
                    )
                    .label(format!("`{key}` is missing"))
                    .help(format!(
                        "Nylas requires {} in {} redirect URI's settings",
                        all_of(
                            REDIRECT_SETTINGS
                                .iter()
                                .filter(|(_, p, r, _)| *p == platform && *r)
                                .map(|(k, _, _, _)| k)
                        ),
                        with_article(platform)
                    )),
                );
            }
        }
    }

    fn connector_settings(
        &mut self,
        pointer: &str,
        provider: ConnectorProvider,
        connector: &ConnectorFix,
    ) {
        let Some(settings) = &connector.settings else {
            return;
        };
        let settings_ptr = format!("{pointer}/settings");
        if provider.needs_credentials() {
            for (present, key) in [
                (settings.client_id.is_some(), "client_id"),
                (settings.client_secret.is_some(), "client_secret"),
            ] {
                if !present {
                    self.out.push(
                        PlanDiagnostic::new(
                            Code::PlanMissingKey,
                            self.span(&settings_ptr),
                            format!("{provider} connector settings need `{key}`"),
                        )
                        .label(format!("`{key}` is missing"))
                        .help(format!(
                            "Nylas requires the {provider} auth app's client_id and client_secret together"
                        )),
                    );
                }
            }
        } else {
            for (present, key) in [
                (settings.client_id.is_some(), "client_id"),
                (settings.client_secret.is_some(), "client_secret"),
            ] {
                if present {
                    self.out.push(
                        PlanDiagnostic::new(
                            Code::PlanSettingNotForProvider,
                            self.span(&format!("{settings_ptr}/{key}")),
                            format!("{provider} connectors take no `{key}`"),
                        )
                        .label("not used by this provider")
                        .help("only google, microsoft, yahoo and zoom connectors have auth-app credentials"),
                    );
                }
            }
        }
        for (present, key, only) in [
            (
                settings.tenant.is_some(),
                "tenant",
                ConnectorProvider::Microsoft,
            ),
            (
                settings.topic_name.is_some(),
                "topic_name",
                ConnectorProvider::Google,
            ),
        ] {
            if present && provider != only {
                self.out.push(
                    PlanDiagnostic::new(
                        Code::PlanSettingNotForProvider,
                        self.span(&format!("{settings_ptr}/{key}")),
                        format!("`{key}` is a {only} setting, not a {provider} one"),
                    )
                    .label("not used by this provider"),
                );
            }
        }
    }
}

/// An optional value a plan wrote empty, which [`Rules::empty_values`] refuses.
#[derive(Debug, Clone, Copy)]
enum EmptyValue {
    /// A webhook's or channel's `description: ""`.
    Description,
    /// A webhook's or channel's `notification_emails: []`.
    Emails,
    /// An iOS redirect URI's `app_store_id` or `team_id` as `""`.
    RedirectSetting(&'static str),
    /// A connector's `scope: []`.
    Scope,
    /// A connector setting written as `""`.
    ConnectorSetting(&'static str),
    /// A connector's `settings: {}`.
    ConnectorSettings,
}

/// Why a notification destination's empty value is refused: what Nylas documents.
const KEPT_WHEN_EMPTY: &str = "Nylas keeps a field that an update sends empty (the contract's PUT /v3/webhooks/{id}: \"Empty fields in the request do not overwrite existing fields\"; for Pub/Sub and SNS channels it is not documented), so this entry would never match a destination that has one and every apply would send it again";

impl EmptyValue {
    fn key(self) -> &'static str {
        match self {
            EmptyValue::Description => "description",
            EmptyValue::Emails => "notification_emails",
            EmptyValue::Scope => "scope",
            EmptyValue::ConnectorSettings => "settings",
            EmptyValue::RedirectSetting(key) | EmptyValue::ConnectorSetting(key) => key,
        }
    }

    fn help(self) -> String {
        match self {
            EmptyValue::Description => format!(
                "{KEPT_WHEN_EMPTY}: remove `description` to leave the live one as it is, or write the description it should have (to remove a description, edit the destination in the Nylas dashboard)"
            ),
            EmptyValue::Emails => format!(
                "{KEPT_WHEN_EMPTY}: remove `notification_emails` to leave the live addresses as they are, or list the addresses to notify (to remove every address, edit the destination in the Nylas dashboard)"
            ),
            EmptyValue::RedirectSetting(key) => format!(
                "Nylas reads an empty `{key}` as none, so this entry would never match the live redirect URI: remove `{key}`, or write its value"
            ),
            EmptyValue::Scope => "a connector with no scope is not documented, nor whether an update sent `scope: []` clears the connector's scopes: remove `scope` to leave the live scopes as they are, or list the scopes the connector should have".to_owned(),
            EmptyValue::ConnectorSettings => "an update replaces a connector's settings whole, so `settings: {}` would erase the live ones the next time the connector is updated: remove `settings` to leave them as they are, or write the settings it should have".to_owned(),
            EmptyValue::ConnectorSetting(key) => format!(
                "an empty `{key}` is not one Nylas can use: remove `{key}` (the connector's settings are then written without it), or write its value"
            ),
        }
    }
}

/// Finds one cycle through the strongly connected `members`, as (pair, index in its `after`).
fn cycle_through(
    views: &[PairView<'_>],
    members: &[usize],
    index: &HashMap<&str, usize>,
) -> Vec<(usize, usize)> {
    // Walk from the first member along `after` edges that stay in the component until a pair
    // repeats; the walk from that pair's first visit is a cycle.
    let mut path: Vec<(usize, usize)> = Vec::new();
    let mut position: HashMap<usize, usize> = HashMap::new();
    let mut current = members[0];
    loop {
        if let Some(&start) = position.get(&current) {
            return path.split_off(start);
        }
        let Some((j, next)) = views[current]
            .after
            .iter()
            .filter_map(|&(j, name)| index.get(name).map(|&n| (j, n)))
            // `members` is sorted: a binary search keeps a cycle through thousands of pairs
            // from costing the square of its length.
            .find(|(_, n)| *n != current && members.binary_search(n).is_ok())
        else {
            // Cannot happen in a strongly connected component of two or more pairs; report
            // what was walked rather than loop.
            return path;
        };
        position.insert(current, path.len());
        path.push((current, j));
        current = next;
    }
}

/// Pub/Sub channels Nylas allows per application (the contract's README).
const MAX_PUBSUB_CHANNELS: usize = 5;

/// Each redirect URI setting: the platform it belongs to, whether that platform's settings
/// require it (the contract's `RedirectURIObject`), and whether a plan's settings have it.
type RedirectSetting = (
    &'static str,
    RedirectPlatform,
    bool,
    fn(&RedirectUriSettings) -> bool,
);

const REDIRECT_SETTINGS: &[RedirectSetting] = &[
    ("origin", RedirectPlatform::Js, true, |s| s.origin.is_some()),
    ("bundle_id", RedirectPlatform::Ios, true, |s| {
        s.bundle_id.is_some()
    }),
    ("app_store_id", RedirectPlatform::Ios, false, |s| {
        s.app_store_id.is_some()
    }),
    ("team_id", RedirectPlatform::Ios, false, |s| {
        s.team_id.is_some()
    }),
    ("package_name", RedirectPlatform::Android, true, |s| {
        s.package_name.is_some()
    }),
    (
        "sha1_certificate_fingerprint",
        RedirectPlatform::Android,
        true,
        |s| s.sha1_certificate_fingerprint.is_some(),
    ),
];

/// The longest value quoted whole in a message; longer ones are cut (a hostile plan's 30 MB
/// value would otherwise be copied into each message about it).
const QUOTED: usize = 120;

/// `value`, cut to [`QUOTED`] characters with `…` when longer.
fn short(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(QUOTED) {
        Some((at, _)) => format!("{}…", &value[..at]).into(),
        None => value.into(),
    }
}

/// A reason from [`forms`], which quotes the value: only for values short enough to quote.
fn reason(value: &str, reason: String, form: &str) -> String {
    if value.chars().count() <= QUOTED {
        reason
    } else {
        form.to_owned()
    }
}

/// `a web`, `an ios`: the platform with its article.
fn with_article(platform: RedirectPlatform) -> String {
    match platform {
        RedirectPlatform::Ios | RedirectPlatform::Android => format!("an {platform}"),
        _ => format!("a {platform}"),
    }
}

/// How many pairs of an `after` cycle its message names.
const SHOWN_CYCLE: usize = 10;

/// How many unknown names in `after` get a suggestion or the list of pairs as help.
const SUGGESTED_UNKNOWN_PAIRS: usize = 20;

/// The help naming a plan's pairs, at most a screenful of them.
fn pairs_in_plan(names: &[&str]) -> String {
    const SHOWN: usize = 20;
    let mut help = format!(
        "pairs in this plan: {}",
        names[..names.len().min(SHOWN)].join(", ")
    );
    if names.len() > SHOWN {
        help.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    help
}

/// The API URL's host, if the URL is usable as a base URL.
fn check_api_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("uses plain http to a host that is not a loopback address".into()),
        other => return Err(format!("uses the scheme `{other}`, not https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        // As the client refuses it (`api::endpoint`): `validate` and `plan` agree.
        return Err(
            "has a user name or password in it (`user:password@`); the API key is sent as a header, never in the URL".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or fragment".into());
    }
    url.host_str()
        .map(str::to_owned)
        .ok_or_else(|| "has no host".to_owned())
}

/// A redirect URI for `platform`, worded like [`check_webhook_url`]: https (http only to
/// loopback), and for `ios` and `android` also a deep link, as [`forms::check_redirect_uri`]
/// (the simulator's rule) accepts.
fn check_redirect_url(raw: &str, platform: RedirectPlatform) -> Result<(), String> {
    let mobile = matches!(platform, RedirectPlatform::Ios | RedirectPlatform::Android);
    if let Ok(url) = reqwest::Url::parse(raw)
        && !matches!(url.scheme(), "http" | "https")
    {
        return match (mobile, forms::check_redirect_uri(raw, platform)) {
            (true, Ok(())) => Ok(()),
            (true, Err(_)) => Err(
                "is neither an https URL nor a deep link <package-or-bundle-name>://<path>".into(),
            ),
            (false, _) => Err(format!(
                "uses the scheme `{}`, not https",
                short(url.scheme())
            )),
        };
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    match url.scheme() {
        "http" if !is_loopback(&url) => {
            Err("uses plain http to a host that is not localhost".into())
        }
        _ => Ok(()),
    }
}

fn check_webhook_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err("uses plain http; Nylas delivers notifications over https".into()),
        other => Err(format!("uses the scheme `{other}`, not https")),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(trust::is_loopback_host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::load::load_str;

    /// A pair whose entries are `body` (YAML under the pair, indented four spaces).
    fn plan(body: &str) -> String {
        format!(
            "version: 1\nname: t\npairs:\n  - name: p\n    region: us\n    v2: {{ app_id: v2app, client_secret: {{ env: S }} }}\n    v3: {{ app_id: ad410018-d306-43f9-8361-fa5d7b2172e0, api_key: {{ env: K }} }}\n{body}"
        )
    }

    /// (line, column, message) of each `plan::empty-value` of the plan.
    fn empty_values(body: &str) -> Vec<(usize, String)> {
        match load_str(Path::new("p.yaml"), "p.yaml", &plan(body)) {
            Ok(_) => Vec::new(),
            Err(invalid) => invalid
                .diagnostics
                .into_iter()
                .map(|d| {
                    assert_eq!(d.code, Code::PlanEmptyValue, "{d:?}");
                    assert!(
                        d.help.as_deref().is_some_and(|h| h.contains("remove `")),
                        "{d:?}"
                    );
                    (d.line, d.message)
                })
                .collect(),
        }
    }

    #[test]
    fn every_optional_value_written_empty_is_refused_and_left_out_is_not() {
        let hook =
            "    webhooks:\n      - url: https://h.example/n\n        triggers: [grant.created]\n";
        let pubsub = "    pubsub:\n      - topic: projects/acme/topics/events\n        triggers: [grant.created]\n";
        let sns = "    sns:\n      - topic: arn:aws:sns:us-east-1:123456789012:events\n        role_arn: arn:aws:iam::123456789012:role/r\n        triggers: [grant.created]\n";
        let ios = "    redirect_uris:\n      - url: https://app.example/cb\n        platform: ios\n        settings:\n          bundle_id: com.acme.app\n";
        let connector = "    connectors:\n      - provider: microsoft\n";
        let msft =
            "        settings: { client_id: id, client_secret: { env: C }, tenant: common }\n";
        for (case, body, expected) in [
            (
                "left out: the live value stays",
                format!("{hook}{pubsub}{sns}{ios}{connector}"),
                vec![],
            ),
            (
                "written: applied",
                format!(
                    "{hook}        description: d\n        notification_emails: [a@b.example]\n"
                ),
                vec![],
            ),
            (
                "null is left out",
                format!("{hook}        description:\n"),
                vec![],
            ),
            (
                "a webhook's empty description and emails",
                format!("{hook}        description: \"\"\n        notification_emails: []\n"),
                vec![
                    (11, "`description` is empty"),
                    (12, "`notification_emails` is empty"),
                ],
            ),
            (
                "a Pub/Sub channel's",
                format!("{pubsub}        description: ''\n        notification_emails: []\n"),
                vec![
                    (11, "`description` is empty"),
                    (12, "`notification_emails` is empty"),
                ],
            ),
            (
                "an SNS channel's",
                format!("{sns}        notification_emails: []\n"),
                vec![(12, "`notification_emails` is empty")],
            ),
            (
                "an iOS redirect URI's optional settings",
                format!("{ios}          app_store_id: \"\"\n          team_id: \"\"\n"),
                vec![(13, "`app_store_id` is empty"), (14, "`team_id` is empty")],
            ),
            (
                "a connector's scope",
                format!("{connector}        scope: []\n"),
                vec![(10, "`scope` is empty")],
            ),
            (
                "a connector's settings",
                format!(
                    "{connector}        settings: {{ client_id: \"\", client_secret: {{ env: C }}, tenant: \"\" }}\n"
                ),
                vec![(10, "`client_id` is empty"), (10, "`tenant` is empty")],
            ),
            (
                "a connector's empty settings (an imap connector takes no credentials)",
                "    connectors:\n      - provider: imap\n        settings: {}\n".to_owned(),
                vec![(10, "`settings` is empty")],
            ),
            (
                "a connector's client_id read from the environment is not empty",
                format!("{connector}{msft}"),
                vec![],
            ),
        ] {
            let expected: Vec<(usize, String)> = expected
                .into_iter()
                .map(|(l, m)| (l, m.to_owned()))
                .collect();
            assert_eq!(empty_values(&body), expected, "{case}");
        }
    }
}
