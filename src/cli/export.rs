//! `deployc export`: a checked plan as another tool's objects.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use miette::{IntoDiagnostic, WrapErr};

use super::ColorChoice;
use crate::export::{ExportSeverity, argo};

#[derive(Args, Debug)]
pub(super) struct ExportArgs {
    #[command(subcommand)]
    target: ExportTarget,
}

#[derive(Subcommand, Debug)]
enum ExportTarget {
    /// Argo Rollouts objects: a Rollout, its AnalysisTemplates and the release's image
    #[command(name = "argo-rollouts")]
    ArgoRollouts(ArgoArgs),
}

#[derive(Args, Debug)]
struct ArgoArgs {
    /// The `.deploy` file
    file: PathBuf,
    /// The release to export (its version)
    #[arg(long)]
    release: String,
    /// The environment to export it for (it must use the `argo_rollouts` provider)
    #[arg(long)]
    env: String,
    /// Write one YAML file per object into this directory instead of a stream on stdout
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: Option<PathBuf>,
    /// Write the pod template into the Rollout instead of a `workloadRef` to the Deployment
    #[arg(long)]
    pod_template: bool,
    /// When to use colour in diagnostics
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// The configuration file [default: the `deployc.toml` nearest to FILE]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub(super) fn run(args: ExportArgs) -> miette::Result<i32> {
    match args.target {
        ExportTarget::ArgoRollouts(a) => argo_rollouts(a),
    }
}

fn argo_rollouts(args: ArgoArgs) -> miette::Result<i32> {
    let plan = match super::plan::build_plan(
        &args.file,
        &args.release,
        &args.env,
        None,
        args.color,
        args.config.as_deref(),
        None,
    )? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let env = |var: &str| std::env::var(var).ok();
    let export = argo::export(
        &plan,
        &env,
        argo::ArgoOptions {
            pod_template: args.pod_template,
            without_analysis: false,
        },
    );
    let read = |file: &str| std::fs::read_to_string(file).ok();
    let mut stderr = std::io::stderr().lock();
    for d in &export.diagnostics {
        let _ = stderr.write_all(d.render(&read).as_bytes());
        let _ = stderr.write_all(b"\n");
    }
    if export.has_errors() {
        let n = export
            .diagnostics
            .iter()
            .filter(|d| d.severity == ExportSeverity::Error)
            .count();
        let _ = writeln!(
            stderr,
            "nothing exported: {n} error{}",
            if n == 1 { "" } else { "s" }
        );
        return Ok(1);
    }
    match &args.output {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(export.to_stream().as_bytes())
                .into_diagnostic()
                .wrap_err("cannot write the objects")?;
        }
        Some(dir) => {
            let written = export
                .write_dir(dir)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot write into `{}`", dir.display()))?;
            for path in &written {
                let _ = writeln!(stderr, "wrote {}", path.display());
            }
            // Files of an earlier export that this one did not write (a template of a step
            // that is gone) would be applied with `kubectl apply -f DIR`: say so.
            for stale in crate::export::stale_files(dir, &written) {
                let _ = writeln!(
                    stderr,
                    "warning: `{}` is not part of this export (left from an earlier one?): remove it before `kubectl apply -f {}`",
                    stale.display(),
                    dir.display()
                );
            }
        }
    }
    Ok(0)
}
