//! Placeholders that are valid where they are written but that an environment cannot fill:
//! the runtime would run the command with the placeholder as literal text (or refuse it at
//! the step), so the checker says so at the placeholder, naming the environment.
//!
//! `{url}` in the smoke test and the `command` provider's actions needs a URL: the
//! environment's or the service's `url`, the local provider's proxy, or the origin of a
//! `health` URL that has one (one with `{port}` names no host a command can reach).
//!
//! `{port}` is the port of an instance deployc runs: only the `local` provider starts
//! instances and knows their ports. Under any other provider the health URL (the only
//! string besides the local command that takes `{port}`) would be probed with `{port}` as
//! literal text.

use crate::diagnostics::errors::Error;
use crate::syntax::ast::{Environment, Provider, Service, StrLit};

use super::placeholders::scan;

pub(super) fn check(service: &Service, environments: &[&Environment], errors: &mut Vec<Error>) {
    let health = service.health.first().map(|h| &h.url);
    for env in environments {
        let local = env
            .provider
            .iter()
            .any(|p| matches!(p, Provider::Local { .. }));
        // The runtime takes the origin of the health URL, which needs a real host and port.
        let health_origin = health.is_some_and(|h| !has(h, "port") && !has(h, "url"));
        if !local && let Some(h) = health {
            report(
                h,
                "port",
                env,
                errors,
                "only the `local` provider runs instances whose port deployc knows",
                "write the host and port the health check reaches in this environment, or `{url}` with a `url` on the environment",
            );
        }
        let url = !env.url.is_empty() || !service.url.is_empty() || local || health_origin;
        if !url {
            let mut commands: Vec<&StrLit> = service.smoke.iter().map(|s| &s.command).collect();
            for p in &env.provider {
                if let Provider::Command { actions, .. } = p {
                    commands.extend(actions.iter().map(|a| &a.command));
                }
            }
            for c in commands {
                report(
                    c,
                    "url",
                    env,
                    errors,
                    "neither the environment, the service nor the provider gives a URL",
                    "set `url` on the environment or the service",
                );
            }
        }
    }
}

fn has(lit: &StrLit, name: &str) -> bool {
    scan(&lit.value).iter().any(|p| p.name == name)
}

/// One error per environment at the placeholder's first occurrence in `lit`.
fn report(
    lit: &StrLit,
    name: &'static str,
    env: &Environment,
    errors: &mut Vec<Error>,
    why: &'static str,
    help: &'static str,
) {
    if let Some(p) = scan(&lit.value).into_iter().find(|p| p.name == name) {
        errors.push(Error::UnavailablePlaceholder {
            span: lit.sub_span(p.start, p.end),
            name,
            environment: env.name.name.clone(),
            why,
            help,
        });
    }
}
