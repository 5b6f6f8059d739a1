; Scopes, definitions and references. The parameters of a named block are local to it, so a
; use of a parameter inside the block is highlighted like the parameter. Top-level names
; (services, channels, roles, metrics) are global and may be used before they are defined,
; so they are not locals.
[
  (strategy_def)
  (rollback_def)
  (comms_def)
  (checklist_def)
] @local.scope

(param name: (ident) @local.definition)

(ident_list (ident) @local.reference)
(args (ident) @local.reference)
(approval_setting role: (ident) @local.reference)
(switch role: (ident) @local.reference)
(check_confirm role: (ident) @local.reference)
(comparison (path . (ident) @local.reference .))
