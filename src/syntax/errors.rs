//! Turning pest's error into a worded E1xx error.
//!
//! Pest reports the rules it tried at the furthest position. Rule names are renamed into
//! words ("a duration like `10m`") here, and a few common mistakes are recognised from the
//! text at the error position so they get a precise message instead of a generic one:
//! an unterminated string, a unit separated from its number (`10 m`), an unknown unit
//! (`10mins`).

use super::parser::Rule;
use crate::diagnostics::errors::Error;
use crate::source::{FileId, Span};

/// What a rule is, in words, for "expected …" lists.
fn describe(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        EOI => "end of file",
        ident => "a name",
        path => "a name",
        env_var => "an environment variable like `DATABASE_URL`",
        int => "a whole number",
        number => "a number",
        duration => "a duration like `10m`",
        percent => "a percentage like `5%`",
        multiplier => "a multiplier like `2x`",
        rate => "a rate like `20/s`",
        t_offset => "a time like `T-1h`",
        checkin => "an offset like `+4h`",
        date => "a date like `2026-12-20`",
        time_of_day => "a time like `09:00`",
        weekday => "a weekday like `mon`",
        string | raw_string => "a string",
        lb => "`{`",
        rb => "`}`",
        lp => "`(`",
        rp => "`)`",
        eq => "`=`",
        colon => "`:`",
        import => "`import`",
        service => "`service`",
        environment => "`environment`",
        team => "`team`",
        channel => "`channel`",
        metric => "`metric`",
        message_def => "`message`",
        strategy_def => "`strategy`",
        rollback_def => "`rollback`",
        comms_def => "`comms`",
        checklist_def => "`checklist`",
        release => "`release`",
        health_setting => "`health`",
        smoke_setting => "`smoke`",
        url_setting | env_url_setting => "`url`",
        run_command | backup_run | check_run => "`run`",
        requires_setting => "`requires`",
        approval_setting => "`approval`",
        gate_timeout => "`timeout`",
        gate_action => "`abort`, `continue` or `rollback`",
        provider_setting => "`provider`",
        local_provider => "`local`",
        command_provider => "`command`",
        local_command => "`command`",
        local_replicas => "`replicas`",
        local_traffic => "`traffic`",
        command_entry => "an action like `deploy = \"…\"`",
        kubernetes_provider => "`kubernetes`",
        argo_provider => "`argo_rollouts`",
        cluster_entry => "a setting like `namespace = \"…\"`",
        database_setting => "`database`",
        sqlite_db => "`sqlite`",
        postgres_db => "`postgres`",
        state_setting => "`state`",
        state_postgres => "`postgres env VAR`",
        env_ref => "`env VAR`",
        backup_setting => "`backup`",
        backup_kind => "`pg_dump`, `snapshot` or `none`",
        backup_verify => "`verify`",
        backup_restore => "`restore`",
        statement_timeout => "`statement_timeout`",
        lock_timeout => "`lock_timeout`",
        metrics_setting => "`metrics`",
        prometheus_source => "`prometheus`",
        probe_source => "`probe`",
        command_source => "`command`",
        window_setting => "`window`",
        weekday_range => "a weekday like `mon`",
        time_range => "a time range like `09:00..16:00`",
        freeze_setting => "`freeze`",
        date_range => "a date like `2026-12-20`",
        flags_setting => "`flags`",
        flags_command => "`command`",
        flags_file => "`file`",
        production_marker => "`production`",
        decision_setting => "`rollback_decision`",
        role_setting => "a role like `lead = \"…\"`",
        ident_list => "a name",
        slack_channel => "`slack`",
        email_channel => "`email`",
        email_smtp => "`smtp`",
        webhook_channel => "`webhook`",
        stdout_channel => "`stdout`",
        file_channel => "`file`",
        required_marker => "`required`",
        metric_kind => "a metric kind (`percent`, `duration`, `rate`, `count` or `number`)",
        metric_single => "`=`",
        metric_multi => "`{`",
        metric_query => "a source (`prometheus`, `probe` or `command`)",
        metric_query_setting => "a source (`prometheus`, `probe` or `command`)",
        source_kind => "a source (`prometheus`, `probe` or `command`)",
        per_unit => "`per`",
        time_unit => "`second`, `minute` or `hour`",
        params => "`(`",
        param => "a parameter like `team: channel`",
        param_kind => "`channel`, `role` or `metric`",
        block_use => "a name",
        args => "`(`",
        risk_setting => "`risk`",
        release_gate => "`approval`",
        release_environment => "`environment`",
        gate_place | gate_named => {
            "a step (`step N`, `batch N`, `preview`, `switch`, `keep_previous`, `recreate` or `smoke`)"
        }
        gate_numbered => "`step` or `batch`",
        risk_level => "`low`, `medium` or `high`",
        strategy_setting => "`strategy`",
        canary => "`canary`",
        blue_green => "`blue_green`",
        rolling => "`rolling`",
        recreate | kw_recreate => "`recreate`",
        flags_only => "`flags_only`",
        analysis => "`analysis`",
        no_data => "`no_data`",
        no_data_action => "`fail`, `pass` or `pause`",
        canary_step => "`step`",
        preview => "`preview`",
        smoke_marker => "`smoke`",
        switch => "`switch`",
        keep_previous => "`keep_previous`",
        rolling_batch => "`batch`",
        max_unavailable => "`max_unavailable`",
        rolling_health => "`health`",
        healthy_count => "`healthy`",
        unhealthy_count => "`unhealthy`",
        downtime => "`downtime`",
        migrations => "`migrations`",
        migration => "a migration (`expand`, `data`, `index` or `contract`)",
        migration_phase => "a migration phase (`expand`, `data`, `index` or `contract`)",
        migration_after => "`after`",
        migration_of => "`of`",
        up_setting => "`up`",
        down_setting => "`down`",
        sql_text => "`sql`",
        sql_file => "`file`",
        noop => "`noop`",
        batch => "`batch`",
        verify_setting => "`verify`",
        irreversible => "`irreversible`",
        flag => "`flag`",
        flag_initially => "`initially`",
        on_off => "`on` or `off`",
        flag_day => "`day`",
        flag_remove => "`remove by day`",
        rollback_setting => "`rollback`",
        rollback_body => "`{`",
        trigger => "a trigger (`auto` or `manual`)",
        trigger_kind => "`auto` or `manual`",
        comms_setting => "`comms`",
        comms_body => "`{`",
        comms_entry => "a comms entry (`at`, `every` or `on`)",
        comms_at => "`at`",
        comms_every => "`every`",
        comms_on => "`on`",
        message_ref => "a message (a string or a template name)",
        monitor => "`monitor`",
        checklist_setting => "`checklist`",
        checklist_body => "`{`",
        check_condition => "`check`",
        check_confirm => "`confirm`",
        condition | cond_and | comparison => "a condition like `error_rate < 1%`",
        relative => "a value",
        compare_op => "a comparison (`<`, `<=`, `>` or `>=`)",
        kw_import => "`import`",
        kw_as => "`as`",
        kw_service => "`service`",
        kw_environment => "`environment`",
        kw_team => "`team`",
        kw_channel => "`channel`",
        kw_metric => "`metric`",
        kw_message => "`message`",
        kw_strategy => "`strategy`",
        kw_rollback => "`rollback`",
        kw_comms => "`comms`",
        kw_checklist => "`checklist`",
        kw_release => "`release`",
        kw_env => "`env`",
        kw_timeout => "`timeout`",
        kw_every => "`every`",
        kw_for => "`for`",
        kw_require => "`require`",
        kw_after => "`after`",
        kw_of => "`of`",
        kw_when => "`when`",
        kw_and => "`and`",
        kw_or => "`or`",
        kw_baseline => "`baseline`",
        kw_notify => "`notify`",
        kw_run => "`run`",
        _ => return None,
    })
}

/// The token at `pos`, for "unexpected …".
fn found_at(src: &str, pos: usize) -> String {
    let rest = src.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return "end of file".into();
    };
    if c == '\n' || c == '\r' {
        return "end of line".into();
    }
    let word: String = if c.is_alphanumeric() || c == '_' {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '%')
            .take(40)
            .collect()
    } else {
        c.to_string()
    };
    format!("`{word}`")
}

fn token_len(src: &str, pos: usize) -> usize {
    let rest = src.get(pos..).unwrap_or("");
    match rest.chars().next() {
        None => 0,
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '%'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len()),
        Some(c) => c.len_utf8(),
    }
}

const UNIT_HELP: &str = "durations are written `500ms`, `30s`, `10m`, `2h`, `1d` or `1w`; percentages `5%`; multipliers `2x`";

/// Recognises a number followed by a spaced or unknown unit: `10 m`, `5 %`, `10mins`.
fn bad_unit(file: FileId, src: &str, pos: usize) -> Option<Error> {
    let rest = src.get(pos..)?;
    let digits = rest
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '_' || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if digits == 0 {
        return None;
    }
    let after = rest.get(digits..)?;
    let num = rest.get(..digits)?;
    // `10 m`, `5 %`, `2 x`
    let trimmed = after.trim_start_matches([' ', '\t']);
    let gap = after.len() - trimmed.len();
    if gap > 0 {
        let unit: String = trimmed
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '%')
            .collect();
        if matches!(
            unit.as_str(),
            "ms" | "s" | "m" | "h" | "d" | "w" | "%" | "x"
        ) {
            let len = digits + gap + unit.len();
            return Some(Error::BadUnit {
                span: Span::new(file, pos, pos + len),
                text: rest.get(..len)?.to_string(),
                help: format!("write `{num}{unit}` without a space"),
            });
        }
        return None;
    }
    // `10mins`, `5sec`
    let unit: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !unit.is_empty() && unit.starts_with(|c: char| c.is_ascii_alphabetic()) {
        let len = digits + unit.len();
        let suggestion = match unit.as_str() {
            "sec" | "secs" | "second" | "seconds" => Some("s"),
            "min" | "mins" | "minute" | "minutes" => Some("m"),
            "hr" | "hrs" | "hour" | "hours" => Some("h"),
            "day" | "days" => Some("d"),
            "week" | "weeks" => Some("w"),
            "msec" | "millis" => Some("ms"),
            _ => None,
        };
        let help = match suggestion {
            Some(u) => format!("write `{num}{u}`; {UNIT_HELP}"),
            None => format!("unknown unit `{unit}`; {UNIT_HELP}"),
        };
        return Some(Error::BadUnit {
            span: Span::new(file, pos, pos + len),
            text: rest.get(..len)?.to_string(),
            help,
        });
    }
    None
}

/// Whether the text after a backslash starts a valid escape (the grammar's `escape` rule).
fn valid_escape(s: &str) -> bool {
    if s.starts_with(['"', '\\', 'n', 't', 'r']) {
        return true;
    }
    let Some(rest) = s.strip_prefix("u{") else {
        return false;
    };
    let hex = rest.chars().take_while(char::is_ascii_hexdigit).count();
    (1..=6).contains(&hex) && rest.get(hex..).is_some_and(|r| r.starts_with('}'))
}

/// Converts pest's error for `src` into one E1xx error.
pub(crate) fn syntax_error(file: FileId, src: &str, e: &pest::error::Error<Rule>) -> Error {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let rest = src.get(pos..).unwrap_or("");
    if rest.starts_with('"') && !rest.starts_with("\"\"\"") {
        let line = rest.split('\n').next().unwrap_or("");
        let body = line.get(1..).unwrap_or("");
        let mut escaped = false;
        let mut closed = false;
        for c in body.chars() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        if !closed {
            return Error::UnterminatedString {
                span: Span::new(file, pos, pos + line.trim_end_matches('\r').len()),
            };
        }
        // A closed string that failed to parse has a bad escape in it.
        let mut idx = 0;
        while let Some(off) = body.get(idx..).and_then(|b| b.find('\\')) {
            let at = idx + off;
            let next = body.get(at + 1..).unwrap_or("");
            if !valid_escape(next) {
                let start = pos + 1 + at;
                let len = 1 + next.chars().next().map(char::len_utf8).unwrap_or(0);
                return Error::InvalidEscape {
                    span: Span::new(file, start, start + len),
                };
            }
            idx = at + 2;
        }
    }
    if rest.starts_with("\"\"\"") && !rest.get(3..).unwrap_or("").contains("\"\"\"") {
        return Error::UnterminatedString {
            span: Span::new(file, pos, pos + 3),
        };
    }
    if let Some(err) = bad_unit(file, src, pos) {
        return err;
    }
    let mut expected: Vec<String> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        for r in positives {
            if let Some(w) = describe(*r)
                && !expected.iter().any(|x| x == w)
            {
                expected.push(w.to_string());
            }
        }
    }
    let len = token_len(src, pos).max(usize::from(pos < src.len()));
    Error::Syntax {
        span: Span::new(file, pos, pos + len),
        expected,
        found: found_at(src, pos),
    }
}
