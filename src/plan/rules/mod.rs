//! The semantic rules: what a schema cannot say about a plan.

use hashbrown::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};
use std::ops::Range;
use std::path::Path;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use super::diagnostic::PlanDiagnostic;
use super::lookup::Lookup;
use super::model::Pair;
use super::suggest::did_you_mean;
use super::trust::{self, Trust};
use crate::code::Code;
use crate::yaml::{Node, Value};

mod files;
mod pair;
mod redirects;
mod values;

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
    let mut rules = Rules::new(root);
    rules.whole_plan(&views, trust, plan_dir);
    for (i, pair) in pairs {
        rules.within_pair(*i, pair);
        rules.secret_files(*i, pair, trust, plan_dir);
    }
    rules.out
}

/// Whether the rules within one pair find nothing in `pair`, at `/pairs/{index}`: for a reader
/// that checks each pair as it reads it (the problems themselves, with their places, come from
/// [`check`]).
pub fn pair_passes(index: usize, pair: &Pair, trust: &Trust, plan_dir: &Path) -> bool {
    let stand_in = Node {
        value: Value::Null,
        span: 0..0,
    };
    let mut rules = Rules::new(&stand_in);
    rules.within_pair(index, pair);
    rules.secret_files(index, pair, trust, plan_dir);
    rules.out.is_empty()
}

/// Whether pairs repeat each other, asked a pair at a time, as a reader reads them: the names,
/// v2 and v3 application IDs and accounts (within a pair and across pairs) that
/// [`check`]'s uniqueness rules compare, each kept as a 64-bit hash with a per-process seed.
/// Two different values with one hash (about one chance in 37 million at a million values) only
/// make a repeat where there is none, which sends the reader to [`check`], which compares the
/// values themselves.
#[derive(Default)]
pub struct Distinct {
    hasher: hashbrown::DefaultHashBuilder,
    names: HashSet<u64>,
    v2_apps: HashSet<u64>,
    v3_apps: HashSet<u64>,
    accounts: HashSet<u64>,
}

impl Distinct {
    /// Notes `pair`'s values; false when one repeats a value noted before, or one of its own.
    pub fn add(&mut self, pair: &Pair) -> bool {
        let hasher = &self.hasher;
        let hash = |value: &str| hasher.hash_one(value);
        self.names.insert(hash(&pair.name))
            & self.v2_apps.insert(hash(&pair.v2.app_id))
            & self.v3_apps.insert(hash(&pair.v3.app_id))
            & pair.clone.single.iter().fold(true, |fresh, account| {
                self.accounts.insert(hash(account)) & fresh
            })
    }
}

/// [`check`] for a plan whose every pair fits the model, is read already, passed
/// [`pair_passes`] and was added to one [`Distinct`] without a repeat: `pairs` are all of them,
/// in order, and the tree may hold stand-ins in their place (their views are read from them).
/// The rules across pairs and of the whole plan but those uniqueness rules.
pub fn check_read(
    root: &Node,
    pairs: &[(usize, Pair)],
    trust: &Trust,
    plan_dir: &Path,
) -> Vec<PlanDiagnostic> {
    let views: Vec<PairView<'_>> = pairs.iter().map(|(i, p)| PairView::of(*i, p)).collect();
    let mut rules = Rules::new(root);
    rules.after_references(&views);
    rules.after_cycles(&views);
    rules.of_the_plan(trust, plan_dir);
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

impl<'a> PairView<'a> {
    /// What [`PairView::all`] reads of a pair in the tree, from the pair read into the model,
    /// for the rules [`check_read`] runs (which do not look at its accounts).
    fn of(index: usize, pair: &'a Pair) -> PairView<'a> {
        PairView {
            index,
            name: Some(&pair.name),
            v2_app_id: Some(&pair.v2.app_id),
            v3_app_id: Some(&pair.v3.app_id),
            after: pair.after.iter().map(String::as_str).enumerate().collect(),
            accounts: Vec::new(),
        }
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

impl<'a> Rules<'a> {
    fn new(root: &'a Node) -> Self {
        Rules {
            root,
            lookup: Lookup::new(root),
            out: Vec::new(),
        }
    }

    /// The rules across pairs and of the plan as a whole.
    fn whole_plan(&mut self, views: &[PairView<'_>], trust: &Trust, plan_dir: &Path) {
        self.unique_across_pairs(views);
        self.after_references(views);
        self.after_cycles(views);
        self.of_the_plan(trust, plan_dir);
    }

    /// The rules of the plan's settings outside its pairs.
    fn of_the_plan(&mut self, trust: &Trust, plan_dir: &Path) {
        self.region_urls(trust);
        self.state_file(trust, plan_dir);
    }

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

    /// Reports each value that repeats an earlier one, pointing at both: items are (position,
    /// value), and `pointer` gives a position's JSON pointer, made only for a repeat.
    fn unique<'v>(
        &mut self,
        code: Code,
        what: &str,
        values: impl IntoIterator<Item = (usize, &'v str)>,
        pointer: impl Fn(usize) -> String,
        help: Option<&str>,
    ) {
        self.unique_by(
            code,
            what,
            values.into_iter().map(|(j, value)| (j, value, value)),
            pointer,
            help,
        );
    }

    /// Reports each item whose key repeats an earlier one's, pointing at both: items are
    /// (position, key compared, text shown). Nothing is allocated per item but the map's entry:
    /// a plan's accounts are tens of thousands of items, and a repeat is rare.
    fn unique_by<'v, K: Hash + Eq>(
        &mut self,
        code: Code,
        what: &str,
        items: impl IntoIterator<Item = (usize, K, &'v str)>,
        pointer: impl Fn(usize) -> String,
        help: Option<&str>,
    ) {
        let items = items.into_iter();
        let mut first: HashMap<K, (usize, &str)> = HashMap::with_capacity(items.size_hint().0);
        for (j, key, shown) in items {
            match first.get(&key) {
                Some(&(earlier, earlier_shown)) => {
                    let mut d = PlanDiagnostic::new(
                        code,
                        self.span(&pointer(j)),
                        format!("duplicate {what} `{}`", short(shown)),
                    )
                    .label("repeated here")
                    .related("first used here", self.span(&pointer(earlier)));
                    let same_text = earlier_shown == shown;
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
                    first.insert(key, (j, shown));
                }
            }
        }
    }

    fn unique_across_pairs(&mut self, views: &[PairView<'_>]) {
        self.unique(
            Code::PlanDuplicatePairName,
            "pair name",
            views.iter().filter_map(|p| Some((p.index, p.name?))),
            |i| format!("/pairs/{i}/name"),
            Some("pair names identify steps and journal entries, so each must be unique"),
        );
        self.unique(
            Code::PlanDuplicateV2App,
            "v2 app ID",
            views.iter().filter_map(|p| Some((p.index, p.v2_app_id?))),
            |i| format!("/pairs/{i}/v2/app_id"),
            Some("a v2 application can be migrated by one pair only"),
        );
        self.unique(
            Code::PlanDuplicateV3App,
            "v3 app ID",
            views.iter().filter_map(|p| Some((p.index, p.v3_app_id?))),
            |i| format!("/pairs/{i}/v3/app_id"),
            Some("a v3 application can be linked to one v2 application only"),
        );
        // Accounts repeated within a pair (each repeat against its first listing) and listed in
        // two pairs (once per pair), in one pass: the accounts are most of a large plan.
        let accounts = views.iter().map(|v| v.accounts.len()).sum();
        let mut owner: HashMap<&str, (usize, usize)> = HashMap::with_capacity(accounts);
        let mut first_here: HashMap<&str, usize> = HashMap::new();
        for view in views {
            first_here.clear();
            let i = view.index;
            for &(j, account) in &view.accounts {
                if let Some(&first) = first_here.get(account) {
                    self.out.push(
                        PlanDiagnostic::new(
                            Code::PlanDuplicateAccount,
                            self.span(&format!("/pairs/{i}/clone/single/{j}")),
                            format!("duplicate account `{}`", short(account)),
                        )
                        .label("repeated here")
                        .related(
                            "first used here",
                            self.span(&format!("/pairs/{i}/clone/single/{first}")),
                        ),
                    );
                    continue;
                }
                first_here.insert(account, j);
                match owner.get(account) {
                    Some(&(other, k)) if other != i => {
                        self.out.push(
                            PlanDiagnostic::new(
                                Code::PlanAccountInTwoPairs,
                                self.span(&format!("/pairs/{i}/clone/single/{j}")),
                                format!("account `{account}` is listed in two pairs"),
                            )
                            .label("listed again here")
                            .related("first listed here", self.span(&format!("/pairs/{other}/clone/single/{k}")))
                            .help("a v2 account belongs to one v2 application, so only one pair can clone it"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        owner.insert(account, (i, j));
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

/// Whether `url` names this machine.
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
