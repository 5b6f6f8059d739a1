; Scopes, definitions and references: the parameters of a named block are local to it.
[
  (file)
  (strategy_def)
  (rollback_def)
  (comms_def)
  (checklist_def)
] @local.scope

(param name: (ident) @local.definition.parameter)

(service name: (ident) @local.definition.type)
(environment name: (ident) @local.definition.type)
(channel name: (ident) @local.definition.constant)
(metric name: (ident) @local.definition.constant)
(message_def name: (ident) @local.definition.constant)
(strategy_def name: (ident) @local.definition.function)
(rollback_def name: (ident) @local.definition.function)
(comms_def name: (ident) @local.definition.function)
(checklist_def name: (ident) @local.definition.function)
(role_setting role: (ident) @local.definition.var)
(migration name: (ident) @local.definition.label)

(ident_list (ident) @local.reference)
(args (ident) @local.reference)
(approval_setting role: (ident) @local.reference)
(switch role: (ident) @local.reference)
(check_confirm role: (ident) @local.reference)
(migration_after (ident) @local.reference)
(migration_of (ident) @local.reference)
