; Text objects (Helix): `maf` selects a named block, `mac` a comment, `maa` a parameter.
[
  (strategy_def)
  (rollback_def)
  (comms_def)
  (checklist_def)
] @function.around

(rollback_def (rollback_body) @function.inside)
(comms_def (comms_body) @function.inside)
(checklist_def (checklist_body) @function.inside)

[
  (service)
  (environment)
  (team)
  (release)
] @class.around

(param) @parameter.inside
(args (ident) @parameter.inside)

(comment) @comment.inside
(comment)+ @comment.around
