//! `nylas-migrate man`: the manual, generated from the clap definitions so that it always
//! matches the commands and flags that exist. One page with every command on stdout, or, with
//! `--dir`, a page per command whose cross-references all name pages written with it.

use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};
use roff::{Roff, bold, roman};

use super::{Cli, CliError, CommandError, ExitStatus, Finished};

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write a page per command into DIR (nylas-migrate.1, nylas-migrate-apply.1, …) instead
    /// of one page with every command to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const BIN: &str = "nylas-migrate";

/// The environment variables the tool reads, for the ENVIRONMENT section.
const ENVIRONMENT: [(&str, &str); 6] = [
    (
        "NYLAS_MIGRATE_ALLOW_API_HOSTS",
        "Hosts (comma-separated) a region's api_url may name besides Nylas's API hosts and loopback; as --allow-api-host.",
    ),
    (
        "NYLAS_MIGRATE_ALLOW_SECRET_DIRS",
        "Folders (comma-separated) { file: } secrets may be read from besides the plan's; as --allow-secret-dir.",
    ),
    (
        "NYLAS_MIGRATE_CA_FILE",
        "A PEM file of CA certificates to trust besides the operating system's store and the bundled roots.",
    ),
    (
        "NYLAS_MIGRATE_LOG",
        "A tracing EnvFilter directive for the logs on stderr (instead of -v).",
    ),
    (
        "NO_COLOR",
        "When set and not empty: no colours and no progress bars.",
    ),
    (
        "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY",
        "Proxies for the Nylas API; loopback addresses are never proxied.",
    ),
];

pub fn man(args: ManArgs) -> Result<Finished, CliError> {
    match &args.dir {
        None => {
            // Rendering into memory fails only on a bug in the page's own text.
            let text = page(&Cli::command(), Pages::One).map_err(|e| CommandError::Internal {
                what: format!("cannot render the man page: {e}"),
            })?;
            super::output::write_stdout_bytes(text.as_bytes());
        }
        Some(dir) => write_pages(dir)?,
    }
    Ok(Finished::Clean)
}

/// How the manual is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pages {
    /// One page: every command's synopsis and options in its COMMANDS section.
    One,
    /// The main page of a set with one page per command, which it refers to.
    Main,
    /// A command's own page in such a set.
    Command,
}

fn commands(cli: &Command) -> impl Iterator<Item = &Command> {
    cli.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

fn write_pages(dir: &Path) -> Result<(), CommandError> {
    let failed = |path: &Path| {
        let path = path.display().to_string();
        move |source| CommandError::Write {
            path,
            cause: source,
        }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let cli = Cli::command();
    let rendered = |cmd: &Command, pages| {
        page(cmd, pages).map_err(|e| CommandError::Internal {
            what: format!("cannot render the man page of {}: {e}", cmd.get_name()),
        })
    };
    let main = dir.join(format!("{BIN}.1"));
    std::fs::write(&main, rendered(&cli, Pages::Main)?).map_err(failed(&main))?;
    for sub in commands(&cli) {
        let path = dir.join(format!("{BIN}-{}.1", sub.get_name()));
        std::fs::write(&path, rendered(sub, Pages::Command)?).map_err(failed(&path))?;
    }
    let written: Vec<String> = std::iter::once(format!("{BIN}.1"))
        .chain(commands(&cli).map(|s| format!("{BIN}-{}.1", s.get_name())))
        .collect();
    errln!(
        "wrote {} pages to {}: {}",
        written.len(),
        dir.display(),
        written.join(", ")
    );
    Ok(())
}

/// Renders one section with clap_mangen, without its `.SH` heading (to place it under another).
fn body(render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<String> {
    let mut out = Vec::new();
    render(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    Ok(text
        .lines()
        .filter(|l| !l.starts_with(".SH ") && !l.starts_with(".ie ") && !l.starts_with(".el "))
        .map(|l| format!("{l}\n"))
        .collect())
}

/// A roff fragment with its apostrophes handled, without the preamble the page already has.
fn roff_text(roff: &Roff) -> String {
    roff.render()
        .lines()
        .filter(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn page(cmd: &Command, pages: Pages) -> std::io::Result<String> {
    let is_main = pages != Pages::Command;
    let (name, bin) = if is_main {
        (BIN.to_owned(), BIN.to_owned())
    } else {
        (
            format!("{BIN}-{}", cmd.get_name()),
            format!("{BIN} {}", cmd.get_name()),
        )
    };
    let command = cmd.clone().display_name(name.clone()).bin_name(bin.clone());
    let man = clap_mangen::Man::new(command.clone())
        .title(name.to_uppercase())
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
        .manual("nylas-migrate manual");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    let mut text = String::from_utf8_lossy(&out).into_owned();
    let mut roff = Roff::new();
    if is_main {
        roff.control("SH", ["COMMANDS"]);
        for sub in commands(cmd) {
            let sub_bin = format!("{BIN} {}", sub.get_name());
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let about = if about.ends_with(['.', ')']) {
                about
            } else {
                format!("{about}.")
            };
            if pages == Pages::One {
                roff.control("SS", [sub_bin.as_str()]);
                roff.text([roman(about)]);
                roff.control("PP", []);
                text.push_str(&roff_text(&roff));
                roff = Roff::new();
                let sub_man = clap_mangen::Man::new(sub.clone().bin_name(sub_bin.clone()));
                text.push_str(&body(|w| sub_man.render_synopsis_section(w))?);
                if sub.get_arguments().any(|a| !a.is_hide_set()) {
                    text.push_str(&body(|w| sub_man.render_options_section(w))?);
                }
            } else {
                roff.control("TP", []);
                roff.text([bold(sub_bin)]);
                roff.text([roman(format!("{about} See {BIN}-{}(1).", sub.get_name()))]);
            }
        }
    } else {
        roff.control("PP", []);
        roff.text([roman(format!(
            "The global options of {BIN}(1) (--output, -v, -q, --allow-api-host, --allow-secret-dir) apply too."
        ))]);
    }
    if is_main || command.get_after_help().is_some() {
        roff.control("SH", ["EXIT STATUS"]);
        for status in ExitStatus::ALL {
            roff.control("TP", []);
            roff.text([bold(status.code().to_string())]);
            roff.text([roman(status.meaning())]);
        }
    }
    if is_main {
        roff.control("SH", ["ENVIRONMENT"]);
        for (variable, meaning) in ENVIRONMENT {
            roff.control("TP", []);
            roff.text([bold(variable)]);
            roff.text([roman(meaning)]);
        }
    }
    match pages {
        Pages::One => {}
        Pages::Main => {
            roff.control("SH", ["SEE ALSO"]);
            let refs: Vec<String> = commands(cmd)
                .map(|s| format!("{BIN}-{}(1)", s.get_name()))
                .collect();
            roff.text([roman(refs.join(", "))]);
        }
        Pages::Command => {
            roff.control("SH", ["SEE ALSO"]);
            roff.text([roman(format!("{BIN}(1)"))]);
        }
    }
    text.push_str(&roff_text(&roff));
    if is_main {
        let mut version = Vec::new();
        man.render_version_section(&mut version)?;
        text.push_str(&String::from_utf8_lossy(&version));
    }
    Ok(text)
}
