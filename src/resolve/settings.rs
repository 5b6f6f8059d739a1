//! What a release runs with in one environment.
//!
//! Three places may give a release's strategy, monitoring period, checklist and flag
//! schedules; for each setting the first that gives it wins:
//!
//! 1. the release's own `environment NAME { … }` block,
//! 2. the environment's `release { … }` defaults,
//! 3. the release's own settings.
//!
//! Flags merge by name in the same order: a flag of a higher place replaces the one of the
//! same name below it, and a new name adds a flag. Lowering, the checker and the lint rules
//! all read this one answer, so a plan and the findings about it never disagree.
//!
//! Named blocks resolve where they are written: the release's module for the release and its
//! environment blocks, the environment's module for its defaults.

use super::{ModuleId, Names};
use crate::syntax::ast::{
    ChecklistEntry, Environment, Flag, Item, Monitor, Release, StrategyRef, Use,
};

/// Which place gave a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The release's own setting.
    Release,
    /// The environment's `release { … }` defaults.
    Defaults,
    /// The release's `environment NAME { … }` block.
    Override,
}

/// One setting as it applies, with the module its names resolve in.
#[derive(Debug)]
pub struct Setting<'a, T> {
    pub value: &'a [T],
    pub module: ModuleId,
    pub origin: Origin,
}

// Not derived: a derive would require `T: Clone`, but only the reference is copied.
impl<T> Clone for Setting<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Setting<'_, T> {}

/// The settings of a release in one environment.
#[derive(Debug, Clone)]
pub struct EnvSettings<'a> {
    pub strategy: Setting<'a, StrategyRef>,
    pub monitor: Setting<'a, Monitor>,
    pub checklist: Setting<'a, Use<Vec<ChecklistEntry>>>,
    /// The flag schedules, the release's first, then those the defaults and the release's
    /// environment block add.
    pub flags: Vec<&'a Flag>,
}

impl<'a> Names<'a> {
    /// The module an environment is declared in.
    pub fn environment_module(&self, env: &Environment) -> Option<ModuleId> {
        self.user_items().find_map(|(m, i)| match i {
            Item::Environment(e) if std::ptr::eq(e, env) => Some(m),
            _ => None,
        })
    }

    /// What `release` (declared in `module`) runs with in `env`.
    pub fn settings_in(
        &self,
        module: ModuleId,
        release: &'a Release,
        env: &'a Environment,
    ) -> EnvSettings<'a> {
        let own = release
            .environments
            .iter()
            .find(|o| o.environment.name == env.name.name);
        // The first block only: a second one is an error (E413) and would otherwise win in
        // one place and lose in another.
        let defaults = env.release.first();
        let env_module = self.environment_module(env).unwrap_or(module);
        fn pick<'a, T>(
            own: Option<&'a [T]>,
            defaults: Option<&'a [T]>,
            release: &'a [T],
            module: ModuleId,
            env_module: ModuleId,
        ) -> Setting<'a, T> {
            match (own, defaults) {
                (Some(v), _) if !v.is_empty() => Setting {
                    value: v,
                    module,
                    origin: Origin::Override,
                },
                (_, Some(v)) if !v.is_empty() => Setting {
                    value: v,
                    module: env_module,
                    origin: Origin::Defaults,
                },
                _ => Setting {
                    value: release,
                    module,
                    origin: Origin::Release,
                },
            }
        }
        let mut flags: Vec<&'a Flag> = release.flags.iter().collect();
        let layers = [defaults.map(|d| &d.flags[..]), own.map(|o| &o.flags[..])];
        for layer in layers.into_iter().flatten() {
            flags.retain(|f| !layer.iter().any(|l| l.name.name == f.name.name));
            flags.extend(layer);
        }
        EnvSettings {
            strategy: pick(
                own.map(|o| &o.strategy[..]),
                defaults.map(|d| &d.strategy[..]),
                &release.strategy,
                module,
                env_module,
            ),
            monitor: pick(
                own.map(|o| &o.monitor[..]),
                defaults.map(|d| &d.monitor[..]),
                &release.monitor,
                module,
                env_module,
            ),
            checklist: pick(
                own.map(|o| &o.checklist[..]),
                defaults.map(|d| &d.checklist[..]),
                &release.checklist,
                module,
                env_module,
            ),
            flags,
        }
    }
}
