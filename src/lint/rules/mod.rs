//! The registry: every lint rule, one file each.
//!
//! To add a rule: create `<code>_<name>.rs` here with a `//!` doc in the four sections and a
//! `pub(crate) static RULE: Rule`, list its module below, and add a firing and a silent
//! fixture under `tests/fixtures/lint/<CODE>/`. The meta-tests in `tests/lint.rs` enforce all
//! of that; `DEPLOYC_UPDATE_DOCS=1 cargo test --test lint` regenerates `docs/rules/`.

use super::Rule;

/// What the plan rules share (not a rule).
pub(super) mod blocks;

macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        $(mod $module;)*
        static RULES: &[&Rule] = &[$(&$module::RULE),*];
    };
}

registry! {
    l001_suppression_without_reason,
    l002_unused_suppression,
    m201_irreversible_without_backup,
    m202_missing_down,
    m203_destructive_outside_contract,
    m204_contract_in_expand_release,
    m205_contract_before_deploy,
    m206_breaking_change_during_rollout,
    m207_index_before_backfill,
    m208_mixed_ddl_and_dml,
    m209_unbatched_backfill,
    m210_down_not_inverse,
    m211_expand_never_contracted,
    m212_unsafe_down,
    m213_lock_heavy_release,
    m214_migration_changed_after_release,
    r301_no_rollback_trigger,
    r302_no_rollback_decision_maker,
    r303_trigger_never_fires,
    r304_auto_rollback_past_point_of_no_return,
    r305_no_data_policy_missing,
    r306_baseline_without_history,
    r307_gate_without_timeout,
    r308_rollback_slower_than_window,
    s401_canary_weights_not_increasing,
    s402_canary_never_completes,
    s403_step_without_analysis,
    s404_hold_shorter_than_interval,
    s405_large_first_step,
    s406_high_risk_without_progressive,
    s407_blue_green_without_preview_check,
    s408_recreate_in_production,
    s409_rolling_unavailable_exceeds_batch,
    c501_no_rollback_notice,
    c502_no_start_notice,
    c503_notice_after_end,
    c504_unused_channel,
    c505_rollback_notice_not_to_stakeholders,
    w601_production_without_window,
    w602_window_includes_friday,
    w603_plan_longer_than_window,
    w604_scheduled_in_freeze,
    f701_flag_without_removal,
    f702_flag_rollout_not_monotonic,
    f703_flag_initially_on,
    t801_missing_role,
    x901_secret_inline,
    x902_placeholder_inside_shell_quotes,
}

pub(crate) mod sql;

/// Every rule, in registry order: the rules above, then the SQL statement rules.
pub(crate) fn all() -> impl Iterator<Item = &'static Rule> {
    RULES.iter().copied().chain(sql::SQL_RULES.iter())
}

/// The SQL statement rules (`sql/<name>`).
pub(crate) fn sql_rules() -> impl Iterator<Item = &'static Rule> {
    sql::SQL_RULES.iter()
}

include!(concat!(env!("OUT_DIR"), "/rule_docs.rs"));

/// The `//!` doc of the rule defined in `file` (its `file!()`).
pub(super) fn doc_of(file: &str) -> &'static str {
    if let Some(doc) = sql::doc(file) {
        return doc;
    }
    let file = file.replace('\\', "/");
    RULE_DOCS
        .iter()
        .find(|(f, _)| file.ends_with(f) || f.ends_with(file.as_str()))
        .map_or("", |(_, d)| d)
}

/// A rule implemented by the engine itself (suppressions), not by a `check` function.
pub(super) fn engine(_: &super::Context<'_>, _: &mut super::Findings) {}
