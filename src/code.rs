//! Every diagnostic code nylas-migrate shows, in one list, in one style: `area::kebab-case`.
//!
//! A code is what pipelines and tests match on, so it is stable: the plan's codes
//! (`plan::unknown-key`) are documented in the README, the others name their area (`state::`
//! the state folder, `secrets::` secret references, `api::` the Nylas API and the client,
//! `engine::` a run of the step graph, `graph::` the step graph, `translate::` the translate
//! command, `simulator::` the local simulator, `cli::` the command line itself).
//!
//! Plan diagnostics take a [`Code`] directly. Error types that derive `miette::Diagnostic`
//! spell their code as a string in the derive attribute (the derive takes only a literal); a
//! test reads every such attribute in `src/` and fails unless it is one of these codes, so this
//! list stays the single source.
//!
//! Adding a code: one row in `codes!` below, and one row in [`PRODUCERS`] naming the invalid
//! example or the test that produces it (a test checks both).

use std::fmt;

/// Declares [`Code`], its strings and [`Code::ALL`] from one row per code.
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal,)+) => {
        /// A diagnostic code (see the [module](self) documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &[Code] = &[$(Code::$variant,)+];

            /// The code as users see it, such as `plan::unknown-key`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)+
                }
            }
        }
    };
}

codes! {
    // The plan file (`validate`, and every command that loads a plan).
    /// The plan file cannot be read.
    PlanUnreadable = "plan::unreadable",
    /// The plan file is larger than plans may be.
    PlanTooLarge = "plan::too-large",
    /// The plan file is not UTF-8.
    PlanNotUtf8 = "plan::not-utf8",
    /// The plan is not well-formed YAML.
    PlanSyntax = "plan::syntax",
    /// A mapping has the same key twice.
    PlanDuplicateKey = "plan::duplicate-key",
    /// The plan is empty.
    PlanEmpty = "plan::empty",
    /// More problems than are shown.
    PlanTooManyProblems = "plan::too-many-problems",
    /// The plan fits the schema but not the model: a bug in nylas-migrate.
    PlanInternal = "plan::internal",
    /// A key the schema does not know.
    PlanUnknownKey = "plan::unknown-key",
    /// A required key is absent.
    PlanMissingKey = "plan::missing-key",
    /// A value of the wrong type.
    PlanWrongType = "plan::wrong-type",
    /// A value that fits none of the shapes allowed there.
    PlanInvalidValue = "plan::invalid-value",
    /// A value outside the contract's enum (region, provider, trigger, mode).
    PlanUnknownValue = "plan::unknown-value",
    /// A number outside its range.
    PlanOutOfRange = "plan::out-of-range",
    /// A list with too few items.
    PlanTooFew = "plan::too-few",
    /// A string that is too short.
    PlanTooShort = "plan::too-short",
    /// A string that is too long.
    PlanTooLong = "plan::too-long",
    /// A string not in its expected format (names, app IDs, env names).
    PlanBadFormat = "plan::bad-format",
    /// A URL that is not valid, or not https where https is required.
    PlanBadUrl = "plan::bad-url",
    /// A control character or bidirectional override.
    PlanControlCharacter = "plan::control-character",
    /// A secret written inline.
    PlanInlineSecret = "plan::inline-secret",
    /// A region's API URL names a host the run does not allow.
    PlanApiHostNotAllowed = "plan::api-host-not-allowed",
    /// A `{ file: }` secret outside the folders the run allows.
    PlanSecretFileOutside = "plan::secret-file-outside",
    /// Two pairs with one name.
    PlanDuplicatePairName = "plan::duplicate-pair-name",
    /// Two pairs with one v2 application.
    PlanDuplicateV2App = "plan::duplicate-v2-app",
    /// Two pairs with one v3 application.
    PlanDuplicateV3App = "plan::duplicate-v3-app",
    /// A test account cloned by two pairs.
    PlanAccountInTwoPairs = "plan::account-in-two-pairs",
    /// A test account listed twice in one pair.
    PlanDuplicateAccount = "plan::duplicate-account",
    /// Two fixes for one connector.
    PlanDuplicateConnector = "plan::duplicate-connector",
    /// Two webhooks with one URL.
    PlanDuplicateWebhook = "plan::duplicate-webhook",
    /// A trigger listed twice in one webhook.
    PlanDuplicateTrigger = "plan::duplicate-trigger",
    /// A Nylas v2 trigger where a v3 trigger goes.
    PlanV2Trigger = "plan::v2-trigger",
    /// A webhook's test trigger that send-test-event does not take.
    PlanUntestableTrigger = "plan::untestable-trigger",
    /// A webhook's test trigger it does not subscribe to.
    PlanTestTriggerNotSubscribed = "plan::test-trigger-not-subscribed",
    /// A Pub/Sub topic not of the form projects/<project>/topics/<topic>.
    PlanBadPubsubTopic = "plan::bad-pubsub-topic",
    /// More Pub/Sub channels than Nylas allows per application.
    PlanTooManyPubsubChannels = "plan::too-many-pubsub-channels",
    /// One Pub/Sub topic twice in a pair.
    PlanDuplicatePubsubTopic = "plan::duplicate-pubsub-topic",
    /// An SNS topic that is not a topic ARN.
    PlanBadSnsTopic = "plan::bad-sns-topic",
    /// An SNS role that is not an IAM role ARN.
    PlanBadRoleArn = "plan::bad-role-arn",
    /// One SNS topic twice in a pair.
    PlanDuplicateSnsTopic = "plan::duplicate-sns-topic",
    /// One redirect URI twice in a pair.
    PlanDuplicateRedirectUri = "plan::duplicate-redirect-uri",
    /// A redirect URI setting that belongs to another platform.
    PlanSettingNotForPlatform = "plan::setting-not-for-platform",
    /// Two waves with one name.
    PlanDuplicateWave = "plan::duplicate-wave",
    /// `after` names a pair the plan does not have.
    PlanUnknownPair = "plan::unknown-pair",
    /// A pair comes `after` itself.
    PlanAfterSelf = "plan::after-self",
    /// `after` names a pair twice.
    PlanDuplicateAfter = "plan::duplicate-after",
    /// `after` forms a cycle.
    PlanAfterCycle = "plan::after-cycle",
    /// A connector setting its provider does not take.
    PlanSettingNotForProvider = "plan::setting-not-for-provider",
    /// A gate without waves to stop.
    PlanGateWithoutWaves = "plan::gate-without-waves",
    /// An optional value written empty (`""`, `[]`), which no update can apply.
    PlanEmptyValue = "plan::empty-value",

    // The step graph, built from a validated plan: these guard against a plan that skipped
    // validation.
    /// `after` forms a cycle (validation rejects such plans first).
    GraphCycle = "graph::cycle",
    /// `after` names a pair the plan does not have (validation rejects such plans first).
    GraphUnknownPair = "graph::unknown-pair",

    // The state folder.
    /// The state folder cannot be created, read or written.
    StateIo = "state::io",
    /// `--state` names something that is not a folder.
    StateNotAFolder = "state::not-a-folder",
    /// The journal cannot be opened, read or written.
    StateJournal = "state::journal",
    /// The journal holds a value this version does not know (newer version, or edited).
    StateJournalUnknownValue = "state::journal-unknown-value",
    /// A password in the `--state` URL (it belongs in PGPASSWORD or the plan's secret).
    StatePasswordOnCommandLine = "state::password-on-command-line",
    /// A PostgreSQL state URL that cannot be used.
    StateInvalidUrl = "state::invalid-url",
    /// An `sslmode` nylas-migrate does not support.
    StateSslmode = "state::sslmode",
    /// A plan's state host that is neither loopback nor allowed by the run.
    StateHostNotAllowed = "state::host-not-allowed",
    /// The plan's state URL secret cannot be read.
    StateUrlUnreadable = "state::url-unreadable",
    /// TLS for the PostgreSQL state cannot be set up (a CA file without certificates).
    StateTls = "state::tls",
    /// The PostgreSQL state cannot be reached or used.
    StatePostgres = "state::postgres",
    /// The database's schema was made by a newer nylas-migrate.
    StateSchemaNewer = "state::schema-newer",
    /// Another `apply` holds the state folder's lock.
    StateLocked = "state::locked",
    /// The state folder's lock cannot be taken.
    StateLockFailed = "state::lock-failed",
    /// A running `apply` lost the state's lock (a database restart or failover, its session
    /// ended, a network cut, the lock file removed): it wrote nothing more and stopped.
    StateLockLost = "state::lock-lost",

    // Secret references, resolved at run time.
    /// Some secret references could not be read (each is related).
    SecretsUnresolved = "secrets::unresolved",
    /// An environment variable a reference names is not set.
    SecretsMissingEnv = "secrets::missing-env",
    /// An environment variable a reference names is empty.
    SecretsEmptyEnv = "secrets::empty-env",
    /// An environment variable a reference names is not UTF-8.
    SecretsNotUtf8Env = "secrets::not-utf8-env",
    /// A secret file cannot be read.
    SecretsUnreadableFile = "secrets::unreadable-file",

    // The Nylas API and the client.
    /// Nylas answered with an error status.
    ApiStatus = "api::status",
    /// No answer: the connection failed or was lost.
    ApiTransport = "api::transport",
    /// A write whose outcome is unknown.
    ApiAmbiguous = "api::ambiguous",
    /// An answer that does not follow the contract.
    ApiDecode = "api::decode",
    /// The v3 application is in another region than the plan says.
    ApiRegionMismatch = "api::region-mismatch",
    /// A credential that cannot travel in an HTTP header.
    ApiInvalidCredential = "api::invalid-credential",
    /// A TLS certificate this machine does not trust.
    ApiTlsCertificate = "api::tls-certificate",
    /// Another TLS failure.
    ApiTls = "api::tls",
    /// The CA file named by `NYLAS_MIGRATE_CA_FILE` cannot be used.
    ApiCaFile = "api::ca-file",
    /// The HTTP client cannot start.
    ApiSetup = "api::setup",
    /// A region's base URL is not a valid URL.
    ApiEndpoint = "api::endpoint",
    /// A region's base URL is plain http to a host other than loopback.
    ApiPlainHttp = "api::plain-http",
    /// A response body larger than the operation's bound.
    ApiTooLarge = "api::too-large",
    /// Pages that do not follow the contract (more items than asked, an ignored offset, too
    /// many pages).
    ApiPaging = "api::paging",
    /// No complete answer within a call's deadline.
    ApiDeadline = "api::deadline",
    /// A client setting from the environment that cannot be used.
    ApiSetting = "api::setting",

    // A run of the step graph.
    /// A write got no answer and its effect was not found.
    EngineOutcomeUnknown = "engine::outcome-unknown",
    /// Another run started the same wave at the same moment.
    EngineConcurrentWave = "engine::concurrent-wave",
    /// A wave's job is no longer listed.
    EngineJobVanished = "engine::job-vanished",
    /// A step task ended without an outcome: a bug in nylas-migrate.
    EngineInternal = "engine::internal",

    // `translate`.
    /// The output file exists and no translate run wrote it.
    TranslateOutputExists = "translate::output-exists",
    /// The output file was started with other options.
    TranslateOptionsChanged = "translate::options-changed",
    /// The `--accounts` file cannot be read or understood.
    TranslateAccountsFile = "translate::accounts-file",
    /// A file of translate's cannot be read or written.
    TranslateIo = "translate::io",
    /// Another translate writes the same output file.
    TranslateLocked = "translate::locked",

    // `simulate`.
    /// The world file cannot be loaded.
    SimulatorWorld = "simulator::world",
    /// The simulator cannot listen where it was asked to.
    SimulatorListen = "simulator::listen",

    // Saved plans (`plan --out`, `apply FILE`).
    /// A saved plan cannot be used: not the format, another format version or tool version.
    SavedPlanInvalid = "saved-plan::invalid",
    /// The plan file a saved plan names is missing or changed since `plan --out`.
    SavedPlanPlanChanged = "saved-plan::plan-changed",
    /// A step's action now differs from the saved plan's: nothing was written.
    SavedPlanStale = "saved-plan::stale",

    // The command line.
    /// `--pair` names a pair the plan does not have.
    CliNoSuchPair = "cli::no-such-pair",
    /// A rerun flag names a step the plan does not have.
    CliNoSuchStep = "cli::no-such-step",
    /// `apply` without a terminal to confirm on, and without `--yes` (a usage error).
    CliConfirmationRequired = "cli::confirmation-required",
    /// `apply` was not confirmed.
    CliCancelled = "cli::cancelled",
    /// Two flags name the same file (a usage error).
    CliSameFile = "cli::same-file",
    /// An output (`--out`, `--errors`) names the plan file itself.
    CliOutIsPlan = "cli::out-is-plan",
    /// An output names a saved plan (only `plan --out` replaces one).
    CliOutIsSavedPlan = "cli::out-is-saved-plan",
    /// An output is inside the state folder.
    CliOutInState = "cli::out-in-state",
    /// An output's last component is a symbolic link (never followed).
    CliOutSymlink = "cli::out-symlink",
    /// `--output json` for a command whose output is a document (a usage error).
    CliNoJsonOutput = "cli::no-json-output",
    /// `--output markdown` for a command other than `plan`, `status` and `verify` (a usage
    /// error).
    CliNoMarkdownOutput = "cli::no-markdown-output",
    /// An output file or folder cannot be written.
    CliWriteFailed = "cli::write-failed",
    /// The async runtime or a signal handler cannot start.
    CliRuntime = "cli::runtime",
    /// A check of the program's own output failed: a bug in nylas-migrate.
    CliInternal = "cli::internal",
}

impl Code {
    /// The code whose string is `text`.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == text)
    }

    /// The area: what comes before `::`.
    pub fn area(self) -> &'static str {
        self.as_str()
            .split_once("::")
            .map_or(self.as_str(), |(area, _)| area)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its string (`plan::unknown-key`), as the `validation` event lists it.
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What shows that a code is really produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Producer {
    /// An invalid plan in `examples/invalid/` that declares it (`# expect: CODE at …`);
    /// `validate` must report it.
    Example(&'static str),
    /// A test (`path/file.rs`, function name) that makes the program produce the code and
    /// asserts it, naming it as `Code::Variant` or by its string.
    Test(&'static str, &'static str),
}

use Code::*;
use Producer::{Example, Test};

const EXIT: &str = "tests/cli_exit_codes.rs";
const HOSTILE: &str = "tests/validate_hostile.rs";
const STATE: &str = "tests/engine_state.rs";
const CLI_ERROR: &str = "src/cli/error.rs";
const SAVED: &str = "tests/cli_saved_plans.rs";
const FENCE: &str = "tests/engine_fencing.rs";
const OUTPUTS: &str = "tests/cli_outputs.rs";
const BOUNDS: &str = "tests/client_bounds.rs";

/// One row per code: where it is produced. A test (`tests/diagnostics_codes.rs`) checks that
/// every code has exactly one row, that each example makes `validate` report its code, and
/// that each named test exists and asserts its code.
#[rustfmt::skip]
pub const PRODUCERS: &[(Code, Producer)] = &[
    (SavedPlanInvalid, Test(SAVED, "a_saved_plan_of_another_format_version_is_refused")),
    (SavedPlanPlanChanged, Test(SAVED, "a_plan_file_edited_after_plan_out_is_refused")),
    (SavedPlanStale, Test(SAVED, "a_saved_plan_applied_after_the_live_state_changed_writes_nothing")),
    (PlanUnreadable, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (PlanTooLarge, Test(HOSTILE, "very_large_documents_finish_in_time")),
    (PlanNotUtf8, Test(HOSTILE, "invalid_utf8_is_refused_naming_the_encoding")),
    (PlanSyntax, Example("examples/invalid/syntax-error.yaml")),
    (PlanDuplicateKey, Example("examples/invalid/duplicate-key.yaml")),
    (PlanEmpty, Example("examples/invalid/empty-plan.yaml")),
    (PlanTooManyProblems, Test(HOSTILE, "inputs_that_used_to_break_validate")),
    (PlanInternal, Test("src/plan/load.rs", "a_plan_the_model_rejects_is_reported_as_a_bug")),
    (PlanUnknownKey, Example("examples/invalid/unknown-key.yaml")),
    (PlanMissingKey, Example("examples/invalid/missing-key.yaml")),
    (PlanWrongType, Example("examples/invalid/wrong-type.yaml")),
    (PlanInvalidValue, Example("examples/invalid/gate-not-a-mapping.yaml")),
    (PlanUnknownValue, Example("examples/invalid/unknown-region.yaml")),
    (PlanOutOfRange, Example("examples/invalid/limit-out-of-range.yaml")),
    (PlanTooFew, Example("examples/invalid/no-triggers.yaml")),
    (PlanTooShort, Example("examples/invalid/empty-name.yaml")),
    (PlanTooLong, Example("examples/invalid/name-too-long.yaml")),
    (PlanBadFormat, Example("examples/invalid/bad-app-id.yaml")),
    (PlanBadUrl, Example("examples/invalid/insecure-api-url.yaml")),
    (PlanControlCharacter, Example("examples/invalid/control-character.yaml")),
    (PlanInlineSecret, Example("examples/invalid/inline-secret.yaml")),
    (PlanApiHostNotAllowed, Example("examples/invalid/api-host-not-allowed.yaml")),
    (PlanSecretFileOutside, Example("examples/invalid/secret-file-outside.yaml")),
    (PlanDuplicatePairName, Example("examples/invalid/duplicate-pair-name.yaml")),
    (PlanDuplicateV2App, Example("examples/invalid/duplicate-v2-app.yaml")),
    (PlanDuplicateV3App, Example("examples/invalid/duplicate-v3-app.yaml")),
    (PlanAccountInTwoPairs, Example("examples/invalid/account-in-two-pairs.yaml")),
    (PlanDuplicateAccount, Example("examples/invalid/duplicate-account.yaml")),
    (PlanDuplicateConnector, Example("examples/invalid/duplicate-connector.yaml")),
    (PlanDuplicateWebhook, Example("examples/invalid/duplicate-webhook.yaml")),
    (PlanDuplicateTrigger, Example("examples/invalid/duplicate-trigger.yaml")),
    (PlanV2Trigger, Example("examples/invalid/v2-trigger.yaml")),
    (PlanUntestableTrigger, Example("examples/invalid/untestable-trigger.yaml")),
    (PlanTestTriggerNotSubscribed, Example("examples/invalid/test-trigger-not-subscribed.yaml")),
    (PlanBadPubsubTopic, Example("examples/invalid/bad-pubsub-topic.yaml")),
    (PlanTooManyPubsubChannels, Example("examples/invalid/too-many-pubsub-channels.yaml")),
    (PlanDuplicatePubsubTopic, Example("examples/invalid/duplicate-pubsub-topic.yaml")),
    (PlanBadSnsTopic, Example("examples/invalid/bad-sns-topic.yaml")),
    (PlanBadRoleArn, Example("examples/invalid/bad-role-arn.yaml")),
    (PlanDuplicateSnsTopic, Example("examples/invalid/duplicate-sns-topic.yaml")),
    (PlanDuplicateRedirectUri, Example("examples/invalid/duplicate-redirect-uri.yaml")),
    (PlanSettingNotForPlatform, Example("examples/invalid/setting-not-for-platform.yaml")),
    (PlanDuplicateWave, Example("examples/invalid/duplicate-wave.yaml")),
    (PlanUnknownPair, Example("examples/invalid/after-unknown-pair.yaml")),
    (PlanAfterSelf, Example("examples/invalid/after-self.yaml")),
    (PlanDuplicateAfter, Example("examples/invalid/duplicate-after.yaml")),
    (PlanAfterCycle, Example("examples/invalid/after-cycle.yaml")),
    (PlanSettingNotForProvider, Example("examples/invalid/credentials-for-imap.yaml")),
    (PlanGateWithoutWaves, Example("examples/invalid/gate-without-waves.yaml")),
    (PlanEmptyValue, Example("examples/invalid/empty-value.yaml")),
    (GraphCycle, Test("tests/diagnostics_codes.rs", "a_plan_that_skipped_validation_gets_graph_errors")),
    (GraphUnknownPair, Test("tests/diagnostics_codes.rs", "a_plan_that_skipped_validation_gets_graph_errors")),
    (StateIo, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (StateNotAFolder, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (StateJournal, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (
        StateJournalUnknownValue,
        Test(
            "tests/cli_terminal.rs",
            "no_human_output_passes_on_control_characters_from_the_api_or_the_journal",
        ),
    ),
    (StatePasswordOnCommandLine, Test(STATE, "a_password_on_the_command_line_is_refused_and_never_shown")),
    (StateInvalidUrl, Test(STATE, "state_locations_that_cannot_be_used_say_why_with_their_codes")),
    (StateSslmode, Test(STATE, "state_locations_that_cannot_be_used_say_why_with_their_codes")),
    (StateHostNotAllowed, Test(STATE, "a_plans_state_host_needs_an_opt_in_from_the_runner")),
    (StateUrlUnreadable, Test(STATE, "state_locations_that_cannot_be_used_say_why_with_their_codes")),
    (StateTls, Test("src/state/journal/location.rs", "a_ca_file_without_a_certificate_is_a_tls_error")),
    (StatePostgres, Test(STATE, "state_locations_that_cannot_be_used_say_why_with_their_codes")),
    (StateSchemaNewer, Test(STATE, "the_schema_is_made_on_first_use_and_versioned")),
    (StateLocked, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (StateLockFailed, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (StateLockLost, Test(FENCE, "a_restart_while_a_runner_waits_before_its_intent_lets_one_runner_through")),
    (SecretsUnresolved, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (SecretsMissingEnv, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (SecretsEmptyEnv, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (SecretsNotUtf8Env, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (SecretsUnreadableFile, Test(EXIT, "setup_errors_are_user_errors_with_a_help_line")),
    (ApiStatus, Test("tests/client_operations.rs", "a_wrong_key_says_which_variable_to_check")),
    (ApiTransport, Test("tests/client_retries.rs", "a_refused_connection_is_retried_then_reported")),
    (ApiAmbiguous, Test("tests/client_retries.rs", "a_batch_clone_is_never_resent_after_an_ambiguous_failure")),
    (ApiDecode, Test(EXIT, "an_answer_that_is_not_the_contract_is_an_api_error")),
    (ApiRegionMismatch, Test("tests/client_operations.rs", "an_application_in_another_region_is_a_region_mismatch")),
    (ApiInvalidCredential, Test("tests/client_operations.rs", "a_key_with_a_newline_is_refused_before_sending")),
    (ApiTlsCertificate, Test("tests/client_tls.rs", "a_certificate_problem_fails_at_once_and_says_so")),
    (ApiTls, Test("tests/client_tls.rs", "https_to_a_plain_http_server_says_what_to_write")),
    (ApiCaFile, Test("tests/client_tls.rs", "a_certificate_problem_fails_at_once_and_says_so")),
    (ApiSetup, Test(CLI_ERROR, "a_client_that_cannot_start_is_not_called_a_bug")),
    (ApiEndpoint, Test("src/client/endpoint.rs", "plain_http_only_to_loopback")),
    (ApiPlainHttp, Test("src/client/endpoint.rs", "plain_http_only_to_loopback")),
    (ApiTooLarge, Test(BOUNDS, "a_body_beyond_the_bound_stops_there")),
    (ApiPaging, Test(BOUNDS, "pages_that_break_the_contract_are_errors")),
    (ApiDeadline, Test(BOUNDS, "a_trickling_server_cannot_hold_a_call_past_its_deadline")),
    (ApiSetting, Test("src/client/retry.rs", "the_deadline_comes_from_the_environment_value_checked")),
    (EngineOutcomeUnknown, Test(CLI_ERROR, "errors_shown_only_as_step_outcomes_keep_their_codes")),
    (EngineConcurrentWave, Test(CLI_ERROR, "errors_shown_only_as_step_outcomes_keep_their_codes")),
    (EngineJobVanished, Test(CLI_ERROR, "errors_shown_only_as_step_outcomes_keep_their_codes")),
    (EngineInternal, Test(CLI_ERROR, "errors_shown_only_as_step_outcomes_keep_their_codes")),
    (TranslateOutputExists, Test("tests/translate.rs", "since_an_accounts_file_and_json_lines")),
    (TranslateOptionsChanged, Test("tests/translate.rs", "since_an_accounts_file_and_json_lines")),
    (TranslateAccountsFile, Test("tests/translate.rs", "since_an_accounts_file_and_json_lines")),
    (TranslateIo, Test("src/cli/translate.rs", "a_second_translate_of_one_file_is_refused")),
    (TranslateLocked, Test("src/cli/translate.rs", "a_second_translate_of_one_file_is_refused")),
    (SimulatorWorld, Test(EXIT, "simulate_errors_are_user_errors")),
    (SimulatorListen, Test(EXIT, "simulate_errors_are_user_errors")),
    (CliNoSuchPair, Test(EXIT, "names_the_plan_does_not_have_exit_1")),
    (CliNoSuchStep, Test(EXIT, "names_the_plan_does_not_have_exit_1")),
    (CliConfirmationRequired, Test(EXIT, "usage_errors_exit_64_never_2")),
    (CliCancelled, Test(EXIT, "an_apply_not_confirmed_exits_1_and_writes_nothing")),
    (CliSameFile, Test(EXIT, "usage_errors_exit_64_never_2")),
    (
        CliOutIsPlan,
        Test("tests/cli_saved_plans.rs", "plan_out_never_replaces_the_plan_file"),
    ),
    (CliOutIsSavedPlan, Test(OUTPUTS, "outputs_never_replace_the_plan_a_saved_plan_or_the_state")),
    (CliOutInState, Test(OUTPUTS, "outputs_never_replace_the_plan_a_saved_plan_or_the_state")),
    (CliOutSymlink, Test(OUTPUTS, "no_output_follows_a_planted_link")),
    (CliNoJsonOutput, Test(EXIT, "usage_errors_exit_64_never_2")),
    (CliNoMarkdownOutput, Test(EXIT, "usage_errors_exit_64_never_2")),
    (CliWriteFailed, Test(EXIT, "output_files_that_cannot_be_written_are_user_errors")),
    (CliRuntime, Test(CLI_ERROR, "runtime_errors_are_not_bugs")),
    (CliInternal, Test(CLI_ERROR, "internal_errors_say_they_are_bugs")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_in_one_style() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            let (area, name) = text.split_once("::").expect("area::name");
            assert!(!name.contains("::"), "{text}: one area");
            for part in [area, name] {
                assert!(
                    !part.is_empty()
                        && !part.starts_with('-')
                        && !part.ends_with('-')
                        && !part.contains("--")
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{text} is not area::kebab-case"
                );
            }
            assert_eq!(Code::parse(text), Some(*code));
        }
    }

    /// The `.rs` files under `dir`, with their text.
    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// The text of the attribute that starts at `start` (its `(`), up to its matching `)`,
    /// string literals skipped.
    fn attribute(text: &str, start: usize) -> &str {
        let mut depth = 0;
        let mut in_string = false;
        let mut escaped = false;
        for (i, c) in text[start..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '(' if !in_string => depth += 1,
                ')' if !in_string => {
                    depth -= 1;
                    if depth == 0 {
                        return &text[start..start + i + 1];
                    }
                }
                _ => {}
            }
        }
        panic!("unclosed attribute");
    }

    /// The top-level items of an attribute's parentheses (`code(..)`, `help(..)`), split at
    /// commas outside nested parentheses and strings.
    fn items(attribute: &str) -> Vec<&str> {
        let inner = &attribute[1..attribute.len() - 1];
        let (mut items, mut depth, mut in_string, mut escaped, mut from) =
            (vec![], 0, false, false, 0);
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '(' if !in_string => depth += 1,
                ')' if !in_string => depth -= 1,
                ',' if !in_string && depth == 0 => {
                    items.push(inner[from..i].trim());
                    from = i + 1;
                }
                _ => {}
            }
        }
        items.push(inner[from..].trim());
        items
    }

    /// The codes of every `#[diagnostic(code("…"))]` attribute in `text`; panics on a code
    /// that is not a string.
    fn derive_codes(file: &str, text: &str) -> Vec<String> {
        let mut codes = Vec::new();
        for (at, _) in text.match_indices("#[diagnostic(") {
            let attribute = attribute(text, at + "#[diagnostic".len());
            for item in items(attribute) {
                let Some(rest) = item.strip_prefix("code") else {
                    continue;
                };
                let literal = rest
                    .trim_start()
                    .strip_prefix('(')
                    .map(str::trim_start)
                    .and_then(|r| r.strip_prefix('"'));
                let Some(literal) = literal else {
                    panic!("{file}: `{attribute}`: write the code as a string, area::kebab-case");
                };
                let end = literal.find('"').unwrap();
                codes.push(literal[..end].to_owned());
            }
        }
        codes
    }

    #[test]
    fn every_code_in_the_source_comes_from_this_list_and_every_code_is_used() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let mut derived = std::collections::HashSet::new();
        for (file, text) in files.iter().filter(|(f, _)| !f.ends_with("src/code.rs")) {
            for code in derive_codes(file, text) {
                assert!(
                    Code::parse(&code).is_some(),
                    "{file}: `{code}` is not in crate::code::Code: add it there"
                );
                derived.insert(code);
            }
        }
        assert!(derived.len() >= 20, "the derive attributes were found");
        let others: String = files
            .iter()
            .filter(|(file, _)| !file.ends_with("src/code.rs"))
            .map(|(_, text)| text.as_str())
            .collect();
        for code in Code::ALL {
            let variant = format!("Code::{code:?}");
            assert!(
                derived.contains(code.as_str()) || others.contains(&variant),
                "{} ({variant}) is produced nowhere in src/",
                code.as_str()
            );
        }
    }

    #[test]
    fn the_scan_sees_a_code_that_is_not_a_string() {
        let bad = "#[diagnostic(\n  code(state::io),\n  help(\"x (y)\")\n)]";
        assert!(std::panic::catch_unwind(|| derive_codes("x.rs", bad)).is_err());
        let good = "#[diagnostic(help(\"a code(x) in help\"), code(\"state::io\"))]";
        assert_eq!(derive_codes("x.rs", good), ["state::io"]);
    }
}
