//! `deployc plan`.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(super) struct PlanArgs {
    /// The `.deploy` file
    file: PathBuf,
}

pub(super) fn run(args: PlanArgs) -> miette::Result<i32> {
    Err(miette::miette!(
        "`deployc plan {}`: planning is not available yet",
        args.file.display()
    ))
}
