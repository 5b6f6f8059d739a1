; SQL inside `sql """…"""` and `sql "…"`.
((sql_text
  (raw_string
    (raw_content) @injection.content))
  (#set! injection.language "sql"))

((sql_text
  (string
    (string_content) @injection.content))
  (#set! injection.language "sql"))

; TODO/FIXME notes in comments.
((comment) @injection.content
  (#set! injection.language "comment"))
