//! Trigger names in a plan: the Nylas v2 triggers a team moving from v2 still writes, with what
//! replaces each in v3, and which triggers Nylas can send a test event for.

use crate::api::{TestTriggerType, TriggerType};

/// What became of a v2 trigger in v3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Fate {
    /// v3 has a trigger of the same name: a plan may use it as it is.
    Same,
    /// v3 reports it with these triggers; the text says what they report.
    Replaced(&'static [TriggerType], &'static str),
    /// Nothing in v3 replaces it, for the reason given.
    Gone(&'static str),
}

const NO_SYNC: &str = "v3 reads the providers directly and has no sync jobs or running accounts, so nothing in v3 reports this";

/// The v2 trigger types (Nylas v2's webhook triggers), with their fate in v3: the upgrade guide's
/// (`../shared/nylas-openapi/README.md`: `account.created` is `grant.created`, `account.invalid`
/// is `grant.expired`, and the sync triggers have no equivalent), v3's trigger list (a grant is
/// created when a user first authenticates and updated when it re-authenticates; folders and
/// labels are one `folder` resource) and the names both versions share.
pub const V2_TRIGGERS: &[(&str, V2Fate)] = &[
    (
        "account.connected",
        V2Fate::Replaced(
            &[TriggerType::GrantCreated, TriggerType::GrantUpdated],
            "v3 has grants, not connected accounts: `grant.created` when a user first authenticates, `grant.updated` when a grant re-authenticates",
        ),
    ),
    (
        "account.created",
        V2Fate::Replaced(
            &[TriggerType::GrantCreated],
            "v3 reports a newly authenticated grant where v2 reported a created account",
        ),
    ),
    (
        "account.invalid",
        V2Fate::Replaced(
            &[TriggerType::GrantExpired],
            "v3 reports a grant whose credentials expired, whose user must re-authenticate",
        ),
    ),
    ("account.running", V2Fate::Gone(NO_SYNC)),
    ("account.stopped", V2Fate::Gone(NO_SYNC)),
    ("account.sync_error", V2Fate::Gone(NO_SYNC)),
    ("job.successful", V2Fate::Gone(NO_SYNC)),
    ("job.failed", V2Fate::Gone(NO_SYNC)),
    ("calendar.created", V2Fate::Same),
    ("calendar.updated", V2Fate::Same),
    ("calendar.deleted", V2Fate::Same),
    (
        "contact.created",
        V2Fate::Gone(
            "v3 has no trigger for a created contact; `contact.updated` and `contact.deleted` report changes to contacts",
        ),
    ),
    ("contact.updated", V2Fate::Same),
    ("contact.deleted", V2Fate::Same),
    ("event.created", V2Fate::Same),
    ("event.updated", V2Fate::Same),
    ("event.deleted", V2Fate::Same),
    ("folder.created", V2Fate::Same),
    ("folder.updated", V2Fate::Same),
    ("folder.deleted", V2Fate::Same),
    (
        "label.created",
        V2Fate::Replaced(
            &[TriggerType::FolderCreated],
            "v3 has one folder resource for folders and labels",
        ),
    ),
    (
        "label.updated",
        V2Fate::Replaced(
            &[TriggerType::FolderUpdated],
            "v3 has one folder resource for folders and labels",
        ),
    ),
    (
        "label.deleted",
        V2Fate::Replaced(
            &[TriggerType::FolderDeleted],
            "v3 has one folder resource for folders and labels",
        ),
    ),
    ("message.created", V2Fate::Same),
    ("message.updated", V2Fate::Same),
    ("message.opened", V2Fate::Same),
    ("message.link_clicked", V2Fate::Same),
    ("thread.replied", V2Fate::Same),
];

/// The fate of `name` if it is a v2 trigger that v3 does not know by that name.
pub fn v2_only(name: &str) -> Option<V2Fate> {
    V2_TRIGGERS
        .iter()
        .find(|(v2, fate)| *v2 == name && *fate != V2Fate::Same)
        .map(|(_, fate)| *fate)
}

/// The trigger a test event of `test` stands for: itself, except that the truncated forms
/// (sent instead of `message.created` or `message.updated` when a message is too large to
/// deliver whole) stand for the trigger they are sent for.
pub fn tested_trigger(test: TestTriggerType) -> Option<TriggerType> {
    match test {
        TestTriggerType::MessageCreatedTruncated => Some(TriggerType::MessageCreated),
        TestTriggerType::MessageUpdatedTruncated => Some(TriggerType::MessageUpdated),
        other => TriggerType::parse(other.as_str()),
    }
}

/// Which of `triggers` Nylas can send a test event for (`send_test_event` lists its own set).
pub fn testable(triggers: &[TriggerType]) -> Vec<TestTriggerType> {
    triggers
        .iter()
        .filter_map(|t| TestTriggerType::parse(t.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The v2 triggers the upgrade guide names, and what the plan says of each.
    #[test]
    fn v2_triggers_name_their_v3_replacement_or_none() {
        let cases: &[(&str, Option<&[TriggerType]>)] = &[
            ("account.created", Some(&[TriggerType::GrantCreated])),
            ("account.invalid", Some(&[TriggerType::GrantExpired])),
            (
                "account.connected",
                Some(&[TriggerType::GrantCreated, TriggerType::GrantUpdated]),
            ),
            ("label.created", Some(&[TriggerType::FolderCreated])),
            ("label.updated", Some(&[TriggerType::FolderUpdated])),
            ("label.deleted", Some(&[TriggerType::FolderDeleted])),
            ("account.running", None),
            ("account.stopped", None),
            ("account.sync_error", None),
            ("job.successful", None),
            ("job.failed", None),
            ("contact.created", None),
        ];
        for (name, replacement) in cases {
            match (v2_only(name), replacement) {
                (Some(V2Fate::Replaced(got, _)), Some(want)) => assert_eq!(got, *want, "{name}"),
                (Some(V2Fate::Gone(_)), None) => {}
                (fate, _) => panic!("{name}: {fate:?}"),
            }
        }
        assert_eq!(
            V2_TRIGGERS
                .iter()
                .filter(|(_, f)| *f != V2Fate::Same)
                .count(),
            cases.len(),
            "every v2-only trigger has a case here"
        );
    }

    #[test]
    fn the_table_agrees_with_the_contract() {
        for (name, fate) in V2_TRIGGERS {
            // A name v3 knows is never reported as v2-only, and a v2-only name is not one v3
            // knows (it would never reach the diagnostic).
            assert_eq!(
                TriggerType::parse(name).is_some(),
                *fate == V2Fate::Same,
                "{name}"
            );
        }
        let mut names: Vec<&str> = V2_TRIGGERS.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), V2_TRIGGERS.len(), "each v2 trigger once");
        assert_eq!(v2_only("message.opened"), None, "same name in v3");
        assert_eq!(v2_only("grant.expire"), None, "not a v2 trigger either");
    }

    #[test]
    fn every_test_trigger_stands_for_a_trigger() {
        for test in TestTriggerType::ALL {
            let trigger = tested_trigger(*test);
            assert!(trigger.is_some(), "{test}");
        }
        assert_eq!(
            tested_trigger(TestTriggerType::MessageCreatedTruncated),
            Some(TriggerType::MessageCreated)
        );
        assert_eq!(
            testable(&[
                TriggerType::GrantImapSyncCompleted,
                TriggerType::GrantExpired
            ]),
            [TestTriggerType::GrantExpired]
        );
    }
}
