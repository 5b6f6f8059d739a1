; Highlights for .deploy, with nvim-treesitter's capture names.
; editors/helix/generate.sh derives the Helix copy from this file.
; No node is captured by two patterns, so the result does not depend on whether an editor lets
; the first or the last matching pattern win.

; Comments --------------------------------------------------------------------------------------

(comment) @comment
(suppression) @keyword.directive

; Items -----------------------------------------------------------------------------------------

[
  "import"
  "as"
] @keyword.import

[
  "service"
  "environment"
  "team"
  "message"
  "release"
] @keyword.type

(channel "channel" @keyword.type)
(metric "metric" @keyword.type)
(strategy_def "strategy" @keyword.type)
(rollback_def "rollback" @keyword.type)
(comms_def "comms" @keyword.type)
(checklist_def "checklist" @keyword.type)
(rollback_setting "rollback" @keyword.type)
(comms_setting "comms" @keyword.type)
(checklist_setting "checklist" @keyword.type)

(import (path (ident) @module))
(import alias: (ident) @module)
(service name: (ident) @type)
(environment name: (ident) @type)
(requires_setting (ident) @type)
(channel name: (ident) @constant)
(metric name: (ident) @constant)
(message_def name: (ident) @constant)
(strategy_def name: (ident) @function)
(rollback_def name: (ident) @function)
(comms_def name: (ident) @function)
(checklist_def name: (ident) @function)
(migration name: (ident) @label)
(flag name: (ident) @label)
(migration_after (ident) @label)
(migration_of (ident) @label)

(param name: (ident) @variable.parameter)
(param_kind) @type.builtin
(metric_kind) @type.builtin

; Settings: `name = value` ----------------------------------------------------------------------

(health_setting "health" @property)
(smoke_setting "smoke" @property)
(url_setting "url" @property)
(env_url_setting "url" @property)
(requires_setting "requires" @property)
(approval_setting "approval" @property)
(provider_setting "provider" @property)
(local_command "command" @property)
(local_replicas "replicas" @property)
(local_traffic "traffic" @property)
(database_setting "database" @property)
(state_setting "state" @property)
(backup_setting "backup" @property)
(metrics_setting "metrics" @property)
(window_setting "window" @property)
(freeze_setting "freeze" @property)
(flags_setting "flags" @property)
(decision_setting "rollback_decision" @property)
(risk_setting "risk" @property)
(strategy_setting "strategy" @property)
(up_setting "up" @property)
(down_setting "down" @property)
(role_setting role: (ident) @property)
(command_entry action: (ident) @property)

; Keywords --------------------------------------------------------------------------------------

[
  "canary"
  "blue_green"
  "rolling"
  "recreate"
  (flags_only)
] @type.builtin

(migration_phase) @keyword.modifier
(trigger_kind) @keyword.exception

[
  "when"
  "require"
  "else"
] @keyword.conditional

[
  "every"
] @keyword.repeat

[
  "and"
  "or"
] @keyword.operator

(comms_on "on" @keyword)
(rolling_health "health" @keyword)
(switch "approval" @keyword)
(release_gate "approval" @keyword)
(release_environment "environment" @keyword)
(env_release "release" @keyword)
(gate_place ["preview" "switch" "keep_previous" "recreate" "smoke" "batch"] @keyword)

[
  "for"
  "after"
  "of"
  "then"
  "at"
  "notify"
  "timeout"
  "by"
  "expect"
  "verify"
  "per"
  "env"
  "run"
  "step"
  "analysis"
  "no_data"
  "preview"
  "switch"
  "keep_previous"
  "batch"
  "max_unavailable"
  "healthy"
  "unhealthy"
  "downtime"
  "migrations"
  "sql"
  "noop"
  "irreversible"
  "flag"
  "initially"
  "day"
  "remove"
  "monitor"
  "checkins"
  "check"
  "confirm"
] @keyword

[
  "http"
  "local"
  "sqlite"
  "postgres"
  "prometheus"
  "probe"
  "slack"
  "email"
  "webhook"
  "smtp"
  "file"
  (source_kind)
  (stdout_channel)
] @function.builtin

(command_provider "command" @function.builtin)
(kubernetes_provider "kubernetes" @function.builtin)
(argo_provider "argo_rollouts" @function.builtin)
(cluster_entry setting: (ident) @property)
(command_source "command" @function.builtin)
(flags_command "command" @function.builtin)

; Constants -------------------------------------------------------------------------------------

[
  (risk_level)
  (no_data_action)
  (gate_action)
  (backup_kind)
  (time_unit)
  (production_marker)
  (required_marker)
  (smoke_marker)
  (weekday)
] @constant.builtin

(on_off) @boolean
(baseline) @variable.builtin
(comms_on event: (ident) @constant)
(env_var) @constant

; Literals --------------------------------------------------------------------------------------

[
  (int)
  (number)
  (duration)
  (percent)
  (multiplier)
  (rate)
  (t_offset)
  (checkin)
  (date)
  (time_of_day)
] @number

[
  (string)
  (raw_string)
] @string

[
  (escape_sequence)
  (brace_escape)
] @string.escape

(placeholder) @string.special

; Names in use ----------------------------------------------------------------------------------

(path (ident) @module . (ident))
(block_use (path (ident) @function.call .))
(message_ref (path (ident) @constant .))
(comparison (path (ident) @variable .))
(ident_list (ident) @variable)
(args (ident) @variable)
(approval_setting role: (ident) @variable)
(switch role: (ident) @variable)
(release_gate role: (ident) @variable)
(release_environment name: (ident) @type)
(check_confirm role: (ident) @variable)
(flag_day segment: (ident) @variable)

; Operators and punctuation ---------------------------------------------------------------------

[
  (compare_op)
  "="
  ".."
] @operator

[
  ","
  ":"
  "."
] @punctuation.delimiter

[
  "{"
  "}"
  "("
  ")"
] @punctuation.bracket
