use std::process::ExitCode;

// SIGPIPE stays ignored (Rust's default): a write to a socket whose peer went away is an error
// the client reports, never a silent death. Only a closed stdout ends the process quietly, in
// `cli::output`.
fn main() -> ExitCode {
    nylas_migrate::cli::main()
}
