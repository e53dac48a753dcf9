//! Optional values a plan wrote empty, which an update could not be trusted to apply.

use super::Rules;
use crate::code::Code;
use crate::plan::diagnostic::PlanDiagnostic;
use crate::plan::model::{ConnectorSettings, Pair, SettingValue};

impl Rules<'_> {
    /// Optional values written empty (`description: ""`, `notification_emails: []`, ...). An
    /// update cannot be trusted to apply one: the contract says a webhook update keeps a field
    /// sent empty, says nothing for the others, and an empty redirect URI setting reads as none.
    /// Such an entry would never match a destination that has the field, so every apply would
    /// write it again and `plan` would never settle. Left out, the key leaves the live value as
    /// it is.
    pub(super) fn empty_values(&mut self, base: &str, pair: &Pair) {
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
