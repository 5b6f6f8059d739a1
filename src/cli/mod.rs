//! The command line: clap commands over the compiler and the plan renderers.
//!
//! Operational errors (a path that does not exist, a bad flag value) are miette reports and
//! exit 2; source problems are diagnostics and exit 1; success is 0. A panic is a bug: the
//! hook installed in `main` prints a bug-report hint and exits 101.

mod check;
mod export;
mod fmt;
mod operate;
mod plan;
mod report;
mod rollback;
mod rules;
mod run;

use clap::{Parser, Subcommand, ValueEnum};

/// deployc: deployment runbooks as checked programs.
#[derive(Parser, Debug)]
#[command(name = "deployc", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile and check every `.deploy` file under the given paths (default `.`)
    Check(check::CheckArgs),
    /// Print the execution plan of one release in one environment
    Plan(plan::PlanArgs),
    /// Export the plan of one release in one environment as another tool's objects
    Export(export::ExportArgs),
    /// Format `.deploy` files in place (`--check`, `--diff`: change nothing)
    Fmt(fmt::FmtArgs),
    /// Print the documentation of a lint rule
    Explain(rules::ExplainArgs),
    /// List every lint rule with its level
    Rules(rules::RulesArgs),
    /// Execute a plan: deploy for real, simulate, or show what would be done
    Run(Box<run::RunArgs>),
    /// A run's state from its journal, or the list of runs (`--watch`: follow a live run)
    Status(run::StatusArgs),
    /// Write a run's reports again, adding a note to its issues or lessons learned
    Report(report::ReportArgs),
    /// Finished runs recorded in the state directory
    History(run::HistoryArgs),
    /// Take back the last successful release in an environment: back to the one before it
    Rollback(Box<rollback::RollbackArgs>),
    /// Roll a live run back now, through its plan's rollback
    Abort(operate::AbortArgs),
    /// Hold a live run at its current step: the hold's clock stops, triggers stay armed
    Pause(operate::SteerArgs),
    /// Let a paused live run's hold go on (`deployc run --resume` continues a stopped run)
    Resume(operate::SteerArgs),
    /// End the current hold of a live run early (`--full`: on to full traffic)
    Promote(operate::PromoteArgs),
    /// Approve the gate a live run waits at, for a role
    Approve(operate::DecideArgs),
    /// Reject the gate a live run waits at, for a role
    Reject(operate::DecideArgs),
    /// Run the language server on stdin and stdout (for editors; see docs/lsp.md)
    Lsp(LspArgs),
    /// The demo application (`--port P --version V`) used by the quickstart and the tests
    #[command(hide = true)]
    DemoApp {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `deployc lsp`.
#[derive(clap::Args, Debug)]
struct LspArgs {
    /// Talk over stdin and stdout (the only transport; accepted because editors' clients
    /// pass it)
    #[arg(long)]
    stdio: bool,
}

/// When to colour human output.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    fn to_termcolor(self, is_terminal: bool) -> codespan_reporting::term::termcolor::ColorChoice {
        use codespan_reporting::term::termcolor::ColorChoice as C;
        match self {
            ColorChoice::Always => C::Always,
            ColorChoice::Never => C::Never,
            ColorChoice::Auto if is_terminal && std::env::var_os("NO_COLOR").is_none() => C::Auto,
            ColorChoice::Auto => C::Never,
        }
    }
}

/// Renders diagnostics for people on stderr (colour per `color`); returns the stream so a
/// summary line can follow them.
fn render_to_stderr(
    diags: &[crate::diagnostics::Diagnostic],
    sources: &crate::source::SourceMap,
    color: ColorChoice,
) -> miette::Result<codespan_reporting::term::termcolor::StandardStream> {
    use std::io::IsTerminal;
    let choice = color.to_termcolor(std::io::stderr().is_terminal());
    let mut out = codespan_reporting::term::termcolor::StandardStream::stderr(choice);
    crate::diagnostics::render_human(diags, sources, &mut out)
        .map_err(|e| miette::miette!("cannot write diagnostics: {e}"))?;
    Ok(out)
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Export(args) => export::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Explain(args) => rules::explain(args),
        Command::Rules(args) => rules::rules(args),
        Command::Run(args) => run::run(*args),
        Command::Status(args) => run::status(args),
        Command::Report(args) => report::report(args),
        Command::History(args) => run::history(args),
        Command::Rollback(args) => rollback::run(*args),
        Command::Abort(args) => operate::abort(args),
        Command::Pause(args) => operate::pause(args),
        Command::Resume(args) => operate::resume(args),
        Command::Promote(args) => operate::promote(args),
        Command::Approve(args) => operate::approve(args),
        Command::Reject(args) => operate::reject(args),
        Command::Lsp(_) => match crate::lsp::run() {
            Ok(()) => Ok(0),
            Err(e) => Err(miette::miette!("the language server stopped: {e}")),
        },
        Command::DemoApp { args } => Ok(crate::demo::main(&args)),
    };
    match result {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            2
        }
    }
}
