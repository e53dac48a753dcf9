//! Rules within one pair: its webhooks, their tests, and its Pub/Sub and SNS channels.

use super::{Rules, is_loopback, reason, short};
use crate::api::forms;
use crate::api::{TestTriggerType, TriggerType};
use crate::code::Code;
use crate::plan::diagnostic::PlanDiagnostic;
use crate::plan::model::Pair;
use crate::plan::triggers;
use crate::plan::words::either;

impl Rules<'_> {
    pub(super) fn within_pair(&mut self, i: usize, pair: &Pair) {
        let base = format!("/pairs/{i}");
        self.unique(
            Code::PlanDuplicateConnector,
            "connector for provider",
            pair.connectors
                .iter()
                .enumerate()
                .map(|(j, c)| (j, c.provider.as_str())),
            |j| format!("{base}/connectors/{j}/provider"),
            Some("a v3 application has one connector per provider: merge the two entries"),
        );
        self.unique_by(
            Code::PlanDuplicateWebhook,
            "webhook URL",
            pair.webhooks
                .iter()
                .enumerate()
                .map(|(j, w)| (j, forms::normalized_url(&w.url), w.url.as_str())),
            |j| format!("{base}/webhooks/{j}/url"),
            Some("a URL identifies a webhook destination: merge their triggers into one entry"),
        );
        // Accounts listed twice: with the accounts listed in two pairs, in `unique_across_pairs`.
        self.unique(
            Code::PlanDuplicateWave,
            "wave name",
            pair.clone
                .batches
                .iter()
                .enumerate()
                .map(|(j, w)| (j, w.name.as_str())),
            |j| format!("{base}/clone/batches/{j}/name"),
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
    pub(super) fn webhook_test(
        &mut self,
        pointer: &str,
        test: TestTriggerType,
        own: &[TriggerType],
    ) {
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
    pub(super) fn channels(&mut self, base: &str, pair: &Pair) {
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
                .map(|(j, c)| (j, c.topic.as_str())),
            |j| format!("{base}/pubsub/{j}/topic"),
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
                .map(|(j, c)| (j, c.topic.as_str())),
            |j| format!("{base}/sns/{j}/topic"),
            Some("a topic identifies an SNS channel: merge their triggers into one entry"),
        );
    }

    /// A destination subscribes to each trigger once.
    pub(super) fn distinct_triggers(&mut self, pointer: &str, triggers: &[TriggerType]) {
        self.unique(
            Code::PlanDuplicateTrigger,
            "trigger",
            triggers.iter().enumerate().map(|(k, t)| (k, t.as_str())),
            |k| format!("{pointer}/triggers/{k}"),
            Some("a destination subscribes to each trigger once: remove the repeat"),
        );
    }
}

/// Pub/Sub channels Nylas allows per application (the contract's README).
const MAX_PUBSUB_CHANNELS: usize = 5;

fn check_webhook_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err("uses plain http; Nylas delivers notifications over https".into()),
        other => Err(format!("uses the scheme `{other}`, not https")),
    }
}
