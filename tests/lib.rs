//! The integration tests, one binary: each file beside this one is a module, and `support`
//! holds what they share.

mod support;

mod ci_examples;
mod cli_exit_codes;
mod cli_graph;
mod cli_saved_plans;
mod cli_schema;
mod cli_terminal;
mod cli_validate;
mod client_contract;
mod client_operations;
mod client_rate_limit;
mod client_retries;
mod client_secrets;
mod client_tls;
mod diagnostics_codes;
mod engine_apply;
mod engine_crash;
mod engine_faults;
mod engine_observe_cost;
mod engine_resume;
mod engine_runners;
mod engine_state;
mod engine_waves;
mod events_schema;
mod plan_manual_steps;
mod plan_notifications;
mod plan_trust;
mod report_outcomes;
mod reports;
mod simulator_cli;
mod simulator_contract;
mod simulator_faults;
mod simulator_grants;
mod simulator_http;
mod simulator_jobs;
mod simulator_logging;
mod simulator_migration;
mod simulator_notifications;
mod simulator_resources;
mod simulator_sdk;
mod simulator_world;
mod translate;
mod validate_hostile;
mod verify;
