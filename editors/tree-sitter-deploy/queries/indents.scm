; Indentation (nvim-treesitter): one level inside every `{ … }` and `( … )`.
[
  (service)
  (environment)
  (team)
  (metric_multi)
  (local_provider)
  (command_provider)
  (kubernetes_provider)
  (argo_provider)
  (release)
  (canary)
  (blue_green)
  (rolling)
  (recreate)
  (migrations)
  (migration)
  (flag)
  (rollback_body)
  (comms_body)
  (checklist_body)
  (params)
  (args)
] @indent.begin

[
  "}"
  ")"
] @indent.branch @indent.end

; Text inside triple-quoted strings is left as written.
(raw_string) @indent.ignore

(comment) @indent.auto
