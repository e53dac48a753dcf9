use std::process::ExitCode;

fn main() -> ExitCode {
    nylas_migrate::cli::main()
}
