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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use crate::resolve::{Names, Origin};
    use crate::syntax::ast::StrategyRef;

    const PROGRAM: &str = r#"
service s {}

environment dev {
  provider = local { command = "s --port {port}" }
}

environment staging {
  provider = local { command = "s --port {port}" }
  release {
    strategy = recreate
    monitor 5m
    flag a { initially off, day 1 100% }
    flag b { initially off, day 1 100% }
  }
}

release "1.0.0" {
  strategy = canary { step 10% for 1m, step 100% }
  monitor 1h
  checklist { run "true" }
  flag a { initially off, day 1 10%, day 7 100% }
  flag c { initially off, day 1 10% }
  environment staging {
    monitor 1m
    flag b { initially on, day 2 0% }
  }
}
"#;

    /// Which strategy keyword a setting names.
    fn strategy_name(s: &[StrategyRef]) -> &'static str {
        match s.first() {
            Some(StrategyRef::Inline(s)) => s.name(),
            _ => "",
        }
    }

    #[test]
    fn the_release_block_wins_over_the_defaults_which_win_over_the_release() {
        let (session, compiled) = crate::compile::compile_source("p.deploy", PROGRAM.as_bytes());
        assert!(
            compiled.output.errors.is_empty(),
            "{:?}",
            compiled.output.errors
        );
        let names = Names::new(&session, &compiled.program);
        let (module, release) = names.releases().next().unwrap();
        let env = |n: &str| names.environments().find(|e| e.name.name == n).unwrap();

        // Without defaults or a block: the release's own.
        let dev = names.settings_in(module, release, env("dev"));
        assert_eq!(strategy_name(dev.strategy.value), "canary");
        assert_eq!(dev.strategy.origin, Origin::Release);
        assert_eq!(dev.monitor.origin, Origin::Release);
        let flags: Vec<&str> = dev.flags.iter().map(|f| f.name.name.as_str()).collect();
        assert_eq!(flags, ["a", "c"]);

        // The defaults replace the release's strategy; the release's block wins for the
        // monitoring period; the checklist nobody else gives stays the release's.
        let staging = names.settings_in(module, release, env("staging"));
        assert_eq!(strategy_name(staging.strategy.value), "recreate");
        assert_eq!(staging.strategy.origin, Origin::Defaults);
        assert_eq!(staging.monitor.origin, Origin::Override);
        assert_eq!(staging.monitor.value[0].duration.value, 60_000);
        assert_eq!(staging.checklist.origin, Origin::Release);
        // Flags by name: `a` from the defaults, `b` from the release's block (over the
        // defaults'), `c` the release's own.
        let flags: Vec<(&str, usize)> = staging
            .flags
            .iter()
            .map(|f| (f.name.name.as_str(), f.days.len()))
            .collect();
        assert_eq!(flags, [("c", 1), ("a", 1), ("b", 1)]);
        let b = staging.flags.iter().find(|f| f.name.name == "b").unwrap();
        assert_eq!(b.days[0].day.value, 2);
    }
}
