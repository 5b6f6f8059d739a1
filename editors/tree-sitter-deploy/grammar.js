/**
 * @file Tree-sitter grammar for `.deploy` runbooks, the language compiled by deployc.
 * @license MIT OR Apache-2.0
 *
 * Mirrors the reference grammar `grammar/deploy.pest` rule by rule: rules keep their pest
 * names, pest's silent rules (`_{ … }`) are hidden rules (`_name`), and the `kw_*` rules are
 * plain keyword strings. Keywords are contextual, as in pest: `ident` is the word token, so a
 * keyword is only a keyword where the grammar expects it and `data`, `index` or `lead` stay
 * usable as names. Unit literals (`10m`, `5%`, `2x`, `20/s`, `T-24h`, `+4h`, `2026-12-20`,
 * `09:00`) are single tokens.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const DIGITS = /[0-9](_?[0-9])*/.source;
const UNSIGNED = `${DIGITS}(\\.[0-9]+)?`;
const DURATION_UNIT = '(ms|s|m|h|d|w)';

/**
 * `{ (entry ~ ","?)* }`: a block whose entries are separated by newlines or commas.
 *
 * @param {RuleOrLiteral} entry
 */
function block(entry) {
  return seq('{', repeat(seq(entry, optional(','))), '}');
}

/**
 * `item ~ ("," ~ item)*`
 *
 * @param {RuleOrLiteral} item
 */
function commaSep1(item) {
  return seq(item, repeat(seq(',', item)));
}

module.exports = grammar({
  name: 'deploy',

  word: $ => $.ident,

  extras: $ => [/\s/, $.comment, $.suppression],

  // A comma inside a list (`traffic = 20/s "/", "/api"`, `rollback_decision = lead, on_call`,
  // `freeze = A..B, C..D`, `checkins +4h, +24h`, `analysis every 1m, no_data …`) can also be the
  // separator before the block's next entry; pest decides by backtracking, the GLR parser by
  // trying both.
  conflicts: $ => [
    [$.local_traffic],
    [$.ident_list],
    [$.freeze_setting],
    [$.monitor],
    [$.analysis],
  ],

  rules: {
    file: $ => repeat($._item),

    _item: $ => choice(
      $.import,
      $.service,
      $.environment,
      $.team,
      $.channel,
      $.metric,
      $.message_def,
      $.strategy_def,
      $.rollback_def,
      $.comms_def,
      $.checklist_def,
      $.release,
    ),

    // -----------------------------------------------------------------------------------------
    // Lexical

    comment: _ => token(seq('#', /[^\n]*/)),
    /** `# deployc: allow(CODE) "reason"`: a lint suppression. */
    suppression: _ => token(prec(1, seq('#', /[ \t]*/, 'deployc:', /[^\n]*/))),

    ident: _ => /[a-z_][a-z0-9_]*/,
    path: $ => seq($.ident, repeat(seq(token.immediate('.'), $.ident))),
    env_var: _ => /[A-Z_][A-Z0-9_]*/,

    int: _ => new RegExp(DIGITS),
    number: _ => new RegExp(UNSIGNED),
    duration: _ => new RegExp(`-?${DIGITS}${DURATION_UNIT}`),
    percent: _ => new RegExp(`${UNSIGNED}%`),
    multiplier: _ => new RegExp(`${UNSIGNED}x`),
    rate: _ => new RegExp(`${UNSIGNED}/(s|m|h)`),
    t_offset: _ => new RegExp(`T[-+](${DIGITS}${DURATION_UNIT}|0)`),
    checkin: _ => new RegExp(`\\+${DIGITS}${DURATION_UNIT}`),
    date: _ => /[0-9]{4}-[0-9]{2}-[0-9]{2}/,
    time_of_day: _ => /[0-9]{2}:[0-9]{2}/,
    weekday: _ => choice('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'),

    string: $ => seq(
      '"',
      repeat(choice($.string_content, $.escape_sequence, $.placeholder, $.brace_escape)),
      token.immediate('"'),
    ),
    string_content: _ => token.immediate(prec(2, choice(/[^"\\{\n]+/, '{'))),
    escape_sequence: _ => token.immediate(prec(2, /\\(["\\ntr]|u\{[0-9A-Fa-f]{1,6}\})/)),
    /** `{name}`: a placeholder, checked against the placeholders valid where it is used. */
    placeholder: _ => token.immediate(prec(2, /\{[a-z_][a-z0-9_]*\}/)),
    /** `{{`: a literal brace. */
    brace_escape: _ => token.immediate(prec(2, '{{')),
    raw_string: $ => seq('"""', optional($.raw_content), token.immediate('"""')),
    raw_content: _ => token.immediate(prec(2, repeat1(choice(/[^"]/, /"[^"]/, /""[^"]/)))),
    _text: $ => choice($.raw_string, $.string),

    // -----------------------------------------------------------------------------------------
    // Imports

    import: $ => seq('import', choice(seq($.string, 'as', field('alias', $.ident)), $.path)),

    // -----------------------------------------------------------------------------------------
    // Service

    service: $ => seq('service', field('name', $.ident), block($._service_entry)),
    _service_entry: $ => choice($.health_setting, $.smoke_setting, $.url_setting),
    health_setting: $ => seq(
      'health', '=', 'http', $.string,
      optional(seq('expect', $.int)),
      optional(seq('timeout', $.duration)),
    ),
    smoke_setting: $ => seq('smoke', '=', $.run_command),
    url_setting: $ => seq('url', '=', $.string),
    run_command: $ => seq('run', $.string, optional(seq('timeout', $.duration))),

    // -----------------------------------------------------------------------------------------
    // Environments

    environment: $ => seq('environment', field('name', $.ident), block($._env_entry)),
    _env_entry: $ => choice(
      $.requires_setting,
      $.approval_setting,
      $.provider_setting,
      $.database_setting,
      $.state_setting,
      $.backup_setting,
      $.metrics_setting,
      $.window_setting,
      $.freeze_setting,
      $.flags_setting,
      $.env_url_setting,
      $.statement_timeout,
      $.lock_timeout,
      $.production_marker,
      $.env_release,
    ),
    // `release { … }` in an environment: the strategy, monitoring period, checklist and flag
    // schedules every release runs with there, unless its own `environment NAME { … }` says
    // otherwise.
    env_release: $ => seq(
      'release',
      block(choice($.strategy_setting, $.monitor, $.checklist_setting, $.flag)),
    ),
    requires_setting: $ => seq('requires', '=', $.ident),
    approval_setting: $ => seq('approval', '=', field('role', $.ident), optional($.gate_timeout)),
    gate_timeout: $ => seq('timeout', $.duration, optional(seq('else', $.gate_action))),
    gate_action: _ => choice('abort', 'continue', 'rollback'),
    provider_setting: $ => seq('provider', '=', choice(
      $.local_provider, $.command_provider, $.kubernetes_provider, $.argo_provider,
    )),
    local_provider: $ => seq('local', block($._local_entry)),
    _local_entry: $ => choice($.local_command, $.local_replicas, $.local_traffic),
    local_command: $ => seq('command', '=', $.string),
    local_replicas: $ => seq('replicas', '=', $.int),
    local_traffic: $ => seq('traffic', '=', $.rate, $.string, repeat(seq(',', $.string))),
    command_provider: $ => seq('command', block($.command_entry)),
    command_entry: $ => seq(
      field('action', $.ident), '=', $.string,
      optional(seq('timeout', $.duration)),
    ),
    kubernetes_provider: $ => seq('kubernetes', block($.cluster_entry)),
    argo_provider: $ => seq('argo_rollouts', block($.cluster_entry)),
    cluster_entry: $ => seq(
      field('setting', $.ident), '=', choice($.env_ref, $.string, $.duration, $.int),
    ),
    database_setting: $ => seq('database', '=', choice($.sqlite_db, $.postgres_db)),
    sqlite_db: $ => seq('sqlite', $.string),
    postgres_db: $ => seq('postgres', choice($.env_ref, $.string)),
    env_ref: $ => seq('env', $.env_var),
    state_setting: $ => seq('state', '=', $.state_store),
    state_store: $ => seq('postgres', $.env_ref),
    backup_setting: $ => seq('backup', '=', choice($.backup_run, $.backup_kind)),
    backup_kind: _ => choice('pg_dump', 'snapshot', 'none'),
    backup_run: $ => seq(
      'run', $.string,
      optional($.backup_verify), optional($.backup_restore),
    ),
    backup_verify: $ => seq('verify', $.string),
    backup_restore: $ => seq('restore', $.string),
    statement_timeout: $ => seq('statement_timeout', '=', $.duration),
    lock_timeout: $ => seq('lock_timeout', '=', $.duration),
    metrics_setting: $ => seq(
      'metrics', '=',
      choice($.prometheus_source, $.probe_source, $.command_source),
    ),
    prometheus_source: $ => seq(
      'prometheus', choice($.env_ref, $.string),
      optional(seq('timeout', $.duration)),
    ),
    probe_source: $ => seq('probe', optional(seq('every', $.duration))),
    command_source: $ => seq('command', $.string, optional(seq('timeout', $.duration))),
    window_setting: $ => seq('window', '=', $.weekday_range, $.time_range, $.string),
    weekday_range: $ => seq($.weekday, optional(seq('..', $.weekday))),
    time_range: $ => seq($.time_of_day, '..', $.time_of_day),
    freeze_setting: $ => seq('freeze', '=', commaSep1($.date_range)),
    date_range: $ => seq($.date, optional(seq('..', $.date))),
    flags_setting: $ => seq('flags', '=', choice($.flags_command, $.flags_file)),
    flags_command: $ => seq('command', $.string),
    flags_file: $ => seq('file', $.string),
    env_url_setting: $ => seq('url', '=', $.string),
    production_marker: _ => 'production',

    // -----------------------------------------------------------------------------------------
    // Team, channels, metrics, messages

    team: $ => seq('team', block(choice($.decision_setting, $.role_setting))),
    decision_setting: $ => seq('rollback_decision', '=', $.ident_list),
    role_setting: $ => seq(field('role', $.ident), '=', $.string),
    ident_list: $ => commaSep1($.ident),

    channel: $ => seq(
      'channel', field('name', $.ident), '=', $._channel_kind,
      optional($.required_marker),
    ),
    _channel_kind: $ => choice(
      $.slack_channel,
      $.email_channel,
      $.webhook_channel,
      $.stdout_channel,
      $.file_channel,
    ),
    slack_channel: $ => seq('slack', $.string, 'webhook', choice($.env_ref, $.string)),
    email_channel: $ => seq(
      'email', commaSep1($.string),
      optional(seq('smtp', choice($.env_ref, $.string))),
    ),
    webhook_channel: $ => seq('webhook', choice($.env_ref, $.string)),
    stdout_channel: _ => 'stdout',
    file_channel: $ => seq('file', $.string),
    required_marker: _ => 'required',

    metric: $ => seq(
      'metric', field('name', $.ident), ':', $.metric_kind,
      choice($.metric_single, $.metric_multi),
    ),
    metric_kind: _ => choice('percent', 'duration', 'rate', 'count', 'number'),
    metric_single: $ => seq('=', $.metric_query, optional($.per_unit)),
    metric_multi: $ => block(choice($.metric_query_setting, $.per_unit)),
    metric_query: $ => seq($.source_kind, $.string),
    metric_query_setting: $ => seq($.source_kind, '=', $.string),
    source_kind: _ => choice('prometheus', 'probe', 'command'),
    per_unit: $ => seq('per', $.time_unit),
    time_unit: _ => choice('second', 'minute', 'hour'),

    message_def: $ => seq('message', field('name', $.ident), '=', $.string),

    // -----------------------------------------------------------------------------------------
    // Named blocks

    params: $ => seq('(', optional(commaSep1($.param)), ')'),
    param: $ => seq(field('name', $.ident), ':', $.param_kind),
    param_kind: _ => choice('channel', 'role', 'metric'),
    block_use: $ => seq($.path, optional($.args)),
    args: $ => seq('(', optional(commaSep1($.ident)), ')'),

    strategy_def: $ => seq(
      'strategy', field('name', $.ident), optional($.params), '=', $._strategy_expr,
    ),
    rollback_def: $ => seq('rollback', field('name', $.ident), optional($.params), $.rollback_body),
    comms_def: $ => seq('comms', field('name', $.ident), optional($.params), $.comms_body),
    checklist_def: $ => seq(
      'checklist', field('name', $.ident), optional($.params), $.checklist_body,
    ),

    // -----------------------------------------------------------------------------------------
    // Releases

    release: $ => seq('release', field('version', $.string), block($._release_entry)),
    _release_entry: $ => choice(
      $.risk_setting,
      $.strategy_setting,
      $.migrations,
      $.flag,
      $.rollback_setting,
      $.comms_setting,
      $.monitor,
      $.checklist_setting,
      $.release_gate,
      $.release_environment,
    ),
    // `environment NAME { … }` in a release: that environment's own strategy, monitoring
    // period, checklist and flag schedule.
    release_environment: $ => seq(
      'environment', field('name', $.ident),
      block(choice($.strategy_setting, $.monitor, $.checklist_setting, $.flag)),
    ),
    // `approval after PLACE by ROLE "TEXT" [timeout D [else ACTION]]`: a pause point.
    release_gate: $ => seq(
      'approval', 'after', $.gate_place, 'by', field('role', $.ident), $.string,
      optional($.gate_timeout),
    ),
    gate_place: $ => choice(
      seq(choice('step', 'batch'), $.int),
      choice('preview', 'switch', 'keep_previous', 'recreate', 'smoke'),
    ),
    risk_setting: $ => seq('risk', '=', $.risk_level),
    risk_level: _ => choice('low', 'medium', 'high'),

    strategy_setting: $ => seq('strategy', '=', choice($._strategy_expr, $.block_use)),
    _strategy_expr: $ => choice($.canary, $.blue_green, $.rolling, $.recreate, $.flags_only),

    canary: $ => seq('canary', block(choice($.analysis, $.no_data, $.canary_step))),
    analysis: $ => seq(
      'analysis', 'every', $.duration,
      optional(prec.dynamic(1, seq(',', $.no_data))),
    ),
    no_data: $ => seq('no_data', $.no_data_action, optional(seq('after', $.int))),
    no_data_action: _ => choice('fail', 'pass', 'pause'),
    canary_step: $ => seq(
      'step', $.percent,
      optional(seq('for', $.duration)),
      optional(seq('require', $.condition)),
    ),

    blue_green: $ => seq(
      'blue_green',
      block(choice($.analysis, $.no_data, $.preview, $.switch, $.keep_previous)),
    ),
    preview: $ => seq(
      'preview',
      optional(seq('for', $.duration)),
      optional(seq('require', $.condition)),
      optional($.smoke_marker),
    ),
    smoke_marker: _ => 'smoke',
    switch: $ => seq(
      'switch',
      optional(seq('after', 'approval', field('role', $.ident), optional($.gate_timeout))),
    ),
    keep_previous: $ => seq('keep_previous', $.duration),

    rolling: $ => seq(
      'rolling',
      block(choice(
        $.analysis, $.no_data, $.rolling_batch, $.max_unavailable, $.rolling_health,
      )),
    ),
    rolling_batch: $ => seq('batch', $._count_or_percent),
    max_unavailable: $ => seq('max_unavailable', $._count_or_percent),
    _count_or_percent: $ => choice($.percent, $.int),
    rolling_health: $ => seq(
      'health', 'every', $.duration, 'timeout', $.duration,
      optional($.healthy_count), optional($.unhealthy_count),
    ),
    healthy_count: $ => seq('healthy', $.int),
    unhealthy_count: $ => seq('unhealthy', $.int),

    recreate: $ => seq('recreate', optional(block($.downtime))),
    downtime: $ => seq('downtime', $.duration),
    flags_only: _ => 'flags_only',

    migrations: $ => seq('migrations', block($.migration)),
    migration: $ => seq(
      $.migration_phase, field('name', $.ident),
      repeat(choice($.migration_after, $.migration_of)),
      block($._migration_entry),
    ),
    migration_phase: _ => choice('expand', 'data', 'index', 'contract'),
    migration_after: $ => seq('after', commaSep1($.ident)),
    migration_of: $ => seq('of', $.ident),
    _migration_entry: $ => choice(
      $.up_setting, $.down_setting, $.verify_setting, $.batch,
      $.statement_timeout, $.lock_timeout, $.irreversible,
    ),
    up_setting: $ => seq('up', '=', $._sql_source),
    down_setting: $ => seq('down', '=', choice($.noop, $._sql_source)),
    _sql_source: $ => choice($.sql_text, $.sql_file),
    sql_text: $ => seq('sql', $._text),
    sql_file: $ => seq('file', $.string),
    noop: $ => seq('noop', $.string),
    verify_setting: $ => seq('verify', '=', $._sql_source, '==', choice($.int, $.string)),
    batch: $ => seq('batch', $.int, optional(seq('by', $.ident))),
    irreversible: $ => seq('irreversible', $.string),

    flag: $ => seq(
      'flag', field('name', $.ident),
      block(choice($.flag_initially, $.flag_day, $.flag_remove)),
    ),
    flag_initially: $ => seq('initially', $.on_off),
    on_off: _ => choice('on', 'off'),
    flag_day: $ => seq('day', $.int, $.percent, optional(seq('of', field('segment', $.ident)))),
    flag_remove: $ => seq('remove', 'by', 'day', $.int),

    rollback_setting: $ => seq('rollback', choice(seq('=', $.block_use), $.rollback_body)),
    rollback_body: $ => block($.trigger),
    trigger: $ => seq(
      $.trigger_kind, 'when', $.condition,
      optional(seq('for', $.duration)),
      optional($.gate_timeout),
    ),
    trigger_kind: _ => choice('auto', 'manual'),

    comms_setting: $ => seq('comms', choice(seq('=', $.block_use), $.comms_body)),
    comms_body: $ => block($.comms_entry),
    comms_entry: $ => seq($._comms_when, 'notify', $.ident_list, $.message_ref),
    _comms_when: $ => choice($.comms_at, $.comms_every, $.comms_on),
    comms_at: $ => seq('at', $.t_offset),
    comms_every: $ => seq('every', $.duration),
    comms_on: $ => seq('on', field('event', $.ident)),
    message_ref: $ => choice($.string, $.path),

    monitor: $ => seq(
      'monitor', $.duration,
      optional(seq('then', 'checkins', commaSep1($.checkin))),
    ),

    checklist_setting: $ => seq('checklist', choice(seq('=', $.block_use), $.checklist_body)),
    checklist_body: $ => block(choice($.check_condition, $.check_run, $.check_confirm)),
    check_condition: $ => seq('check', $.condition),
    check_run: $ => $.run_command,
    check_confirm: $ => seq('confirm', $.string, 'by', field('role', $.ident)),

    // -----------------------------------------------------------------------------------------
    // Conditions

    condition: $ => seq($.cond_and, repeat(seq('or', $.cond_and))),
    cond_and: $ => seq($._cond_atom, repeat(seq('and', $._cond_atom))),
    _cond_atom: $ => choice(seq('(', $.condition, ')'), $.comparison),
    comparison: $ => seq($._operand, $.compare_op, $._operand),
    _operand: $ => choice(
      $.relative, $.baseline, $.duration, $.percent, $.rate, $.number, $.path,
    ),
    relative: $ => choice(seq($.multiplier, $.baseline), seq($.percent, 'of', $.baseline)),
    baseline: _ => 'baseline',
    compare_op: _ => choice('<=', '>=', '<', '>'),
  },
});
