//! `nylas-migrate completions SHELL`: generated from the clap definitions, so they always
//! match the commands and flags that exist.

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, CliError, Finished};

#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn completions(args: CompletionArgs) -> Result<Finished, CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, BIN, &mut script);
    if args.shell == Shell::Bash {
        script = fix_bash(&script);
    }
    super::output::write_stdout_bytes(&script);
    Ok(Finished::Clean)
}

const BIN: &str = "nylas-migrate";

/// clap_complete's bash script names each subcommand's state twice, differently when the
/// binary's name has a hyphen: the loop that reads the words escapes the name and each
/// subcommand apart (`nylas__migrate__subcmd__apply`), the `case` that completes escapes the
/// whole path at once (`nylas__subcmd__migrate__subcmd__apply`), so nothing past the first
/// word completed (clap-rs/clap#6421, open upstream). The labels are rewritten the loop's way.
fn fix_bash(script: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = BIN.replace('-', "__subcmd__");
    let right = BIN.replace('-', "__");
    text.replace(&format!("{wrong}__subcmd__"), &format!("{right}__subcmd__"))
        .into_bytes()
}
