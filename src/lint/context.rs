//! What a rule reads: the checked program, its SQL, the configuration, and the plans of
//! every user release in every environment (lowered on first use, once).

use std::cell::OnceCell;
use std::collections::HashMap;

use super::{Config, LintOptions};
use crate::check::LoadedSql;
use crate::lower::{self, LowerOptions, Plan};
use crate::resolve::{Names, Session};
use crate::source::{FileId, Span};

/// One lowered plan: a release in an environment.
pub struct LintPlan {
    pub release: String,
    pub environment: String,
    pub plan: Plan,
}

/// The read-only input of every rule.
pub struct Context<'a> {
    pub session: &'a Session,
    pub names: &'a Names<'a>,
    /// SQL of every `up`/`down`, by the span of its source.
    pub sql: &'a HashMap<Span, LoadedSql>,
    pub config: &'a Config,
    pub options: &'a LintOptions,
    plans: OnceCell<Vec<LintPlan>>,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        session: &'a Session,
        names: &'a Names<'a>,
        sql: &'a HashMap<Span, LoadedSql>,
        config: &'a Config,
        options: &'a LintOptions,
    ) -> Self {
        Context {
            session,
            names,
            sql,
            config,
            options,
            plans: OnceCell::new(),
        }
    }

    /// The plans rules read: the release still to ship lowered in every environment (or
    /// only the pair of [`LintOptions::only`]). The release still to ship is the newest one:
    /// older releases in the file have shipped, and how a shipped release was deployed can
    /// no longer be changed, so a plan finding about it could not be acted on. (Rules about
    /// the program itself — migrations across releases, channels, secrets — read every
    /// release.) A pair that cannot be lowered is skipped: lowering a checked program fails
    /// only when there is no service, which the checker already reports.
    pub fn plans(&self) -> &[LintPlan] {
        self.plans.get_or_init(|| {
            let options = LowerOptions {
                start: self.options.start,
            };
            let newest = self
                .names
                .releases()
                .last()
                .map(|(_, r)| r.version.value.clone());
            let mut out = Vec::new();
            for (_, release) in self.names.releases() {
                if self.options.only.is_none() && Some(&release.version.value) != newest.as_ref() {
                    continue;
                }
                for env in self.names.environments() {
                    let (r, e) = (&release.version.value, &env.name.name);
                    if let Some((or, oe)) = &self.options.only
                        && (or != r || oe != e)
                    {
                        continue;
                    }
                    if let Ok(plan) =
                        lower::lower(self.names, &self.session.sources, self.sql, r, e, &options)
                    {
                        out.push(LintPlan {
                            release: r.clone(),
                            environment: e.clone(),
                            plan,
                        });
                    }
                }
            }
            out
        })
    }

    /// The span a plan's step points at, back in the session's sources.
    pub fn step_span(&self, step: &lower::Step) -> Option<Span> {
        let src = step.source.as_ref()?;
        let file: FileId = self.session.sources.find(&src.file)?;
        Some(Span::new(file, src.start, src.end))
    }
}
