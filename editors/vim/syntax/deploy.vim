" Vim syntax file
" Language:    deploy (deployment runbooks compiled by deployc)
" Filenames:   *.deploy
"
" Mirrors the token classes of the reference grammar (grammar/deploy.pest). Every keyword of
" that grammar appears in this file; tests/editors.rs checks it.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword @,48-57,_,192-255

" ---------------------------------------------------------------------------------------------
" Embedded SQL (`sql "…"` and `sql """…"""`)

if get(g:, 'deploy_sql_highlight', 1)
  unlet! b:current_syntax
  syn include @deploySQL syntax/sql.vim
  unlet! b:current_syntax
  syn case match
  syn iskeyword @,48-57,_,192-255
endif

" ---------------------------------------------------------------------------------------------
" Names, settings and paths (keywords below take priority over these where they overlap)

syn match deployIdentifier /\<[a-z_][a-z0-9_]*\>/
syn match deployEnvVar /\<[A-Z_][A-Z0-9_]*\>/
syn match deployProperty /\<[a-z_][a-z0-9_]*\ze\s*=\%([^=]\|$\)/
syn match deployPath /\<[a-z_][a-z0-9_]*\%(\.[a-z_][a-z0-9_]*\)\+\>/ contains=deployAccessor
syn match deployAccessor /\./ contained
syn match deployCall /\<[a-z_][a-z0-9_]*\%(\.[a-z_][a-z0-9_]*\)*\ze(/ contains=deployAccessor
syn match deployMetricRef /\<[a-z_][a-z0-9_]*\%(\.[a-z_][a-z0-9_]*\)*\ze\s*[<>]/ contains=deployAccessor
syn match deployParam /\<[a-z_][a-z0-9_]*\ze\s*:\s*\%(channel\|role\|metric\)\>/
syn match deployTypeName /\%(\<\%(service\|environment\)\s\+\)\@<=[a-z_][a-z0-9_]*/
syn match deployBlockName /\%(\<\%(channel\|metric\|message\|flag\)\s\+\)\@<=[a-z_][a-z0-9_]*/
syn match deployBlockName /\%(^\s*\%(strategy\|rollback\|comms\|checklist\)\s\+\)\@<=[a-z_][a-z0-9_]*/
syn match deployMigrationName /\%(^\s*\%(expand\|data\|index\|contract\)\s\+\)\@<=[a-z_][a-z0-9_]*/
syn match deployEvent /\%(\<on\s\+\)\@<=[a-z_][a-z0-9_]*/

" Migration phases are keywords only where they start a migration, so `data` and `index`
" stay usable as names.
syn match deployPhase /^\s*\zs\<\%(expand\|data\|index\|contract\)\>\ze\s\+[a-z_]/

" ---------------------------------------------------------------------------------------------
" Keywords

syn keyword deployItem import service environment channel metric message strategy
syn keyword deployItem rollback comms checklist release
" `team` only where it opens the team block, so that a parameter may be called `team`.
syn match deployItem /\<team\>\ze\s*{/
syn keyword deployStrategy canary blue_green rolling recreate flags_only
syn keyword deployTrigger auto manual
syn keyword deployLogical and or
syn keyword deployControl when for require after of then every at on notify timeout else by
syn keyword deployControl expect verify restore per as
syn keyword deployClause step analysis no_data preview switch keep_previous batch
syn keyword deployClause max_unavailable health healthy unhealthy downtime migrations up down
syn keyword deployClause sql noop irreversible statement_timeout lock_timeout flag initially day remove monitor checkins check
syn keyword deployClause confirm run approval smoke url requires provider database state backup
syn keyword deployClause metrics window freeze flags rollback_decision replicas traffic risk
syn keyword deployBuiltin http local command sqlite postgres prometheus probe slack email webhook
syn keyword deployBuiltin stdout smtp file pg_dump snapshot kubernetes argo_rollouts
syn keyword deployConstant low medium high off fail pass pause abort continue none required
syn keyword deployConstant second minute hour
" `production` only as the marker setting, so an environment may be called `production`.
syn match deployConstant /\<production\>\%(\s*\%([,}#]\|$\)\)\@=/
syn keyword deployKind percent duration rate count number role
syn keyword deployEnv env
syn keyword deployBaseline baseline
syn keyword deployWeekday mon tue wed thu fri sat sun

" ---------------------------------------------------------------------------------------------
" Literals (a later match wins where two start at the same column, so the longest forms
" come last)

syn match deployNumber /\<\d\%(_\=\d\)*\%(\.\d\+\)\=\>/
syn match deployDuration /\%([[:alnum:]_.]\)\@<!-\=\d\%(_\=\d\)*\%(ms\|s\|m\|h\|d\|w\)\>/
syn match deployMultiplier /\<\d\%(_\=\d\)*\%(\.\d\+\)\=x\>/
syn match deployPercent /\<\d\%(_\=\d\)*\%(\.\d\+\)\=%/
syn match deployRate /\<\d\%(_\=\d\)*\%(\.\d\+\)\=\/\%(s\|m\|h\)\>/
syn match deployCheckin /\%([[:alnum:]_.]\)\@<!+\d\%(_\=\d\)*\%(ms\|s\|m\|h\|d\|w\)\>/
syn match deployOffset /\<T[-+]\%(\d\%(_\=\d\)*\%(ms\|s\|m\|h\|d\|w\)\|0\)\>/
syn match deployTime /\<\d\d:\d\d\>/
syn match deployDate /\<\d\{4}-\d\d-\d\d\>/

" ---------------------------------------------------------------------------------------------
" Operators and punctuation

syn match deployOperator /<=\|>=\|<\|>\|=\|\.\./
syn match deployDelimiter /[,:]/
syn match deployBrace /[{}()]/

" ---------------------------------------------------------------------------------------------
" Strings

syn match deployEscape /\\\%(["\\ntr]\|u{\x\{1,6}}\)/ contained
syn match deployEscapeError /\\[^"\\ntru]/ contained
syn match deployEscapeError /\\u\%({\x\{1,6}}\)\@!/ contained
syn match deployBraceEscape /{{/ contained
syn match deployPlaceholder /{[a-z_][a-z0-9_]*}/ contained
syn cluster deployStringParts contains=deployEscape,deployEscapeError,deployBraceEscape,deployPlaceholder

syn region deployString start=/"/ skip=/\\\\\|\\"/ end=/"/ end=/$/ oneline contains=@deployStringParts
syn region deployRawString start=/"""/ end=/"""/ contains=deployBraceEscape,deployPlaceholder

if get(g:, 'deploy_sql_highlight', 1)
  syn region deploySql matchgroup=deployString start=/\%(\<sql\s*\)\@<="/ skip=/\\\\\|\\"/ end=/"/ end=/$/
        \ oneline keepend contains=@deployStringParts,@deploySQL
  syn region deploySql matchgroup=deployRawString start=/\%(\<sql\s*\)\@<="""/ end=/"""/
        \ keepend contains=deployBraceEscape,deployPlaceholder,@deploySQL
endif

" ---------------------------------------------------------------------------------------------
" Comments, and `# deployc: allow(CODE) "reason"` suppressions

syn keyword deployTodo TODO FIXME XXX NOTE contained
syn match deployComment /#.*$/ contains=deployTodo,@Spell
syn match deploySuppression /#\s*deployc:.*$/ contains=deployDirective,deployLintCode,deployString
syn match deployDirective /deployc:\|\<\%(allow\|warn\|deny\)\>/ contained
syn match deployLintCode /\<[A-Z]\+\d\+\>\|\<[a-z][a-z0-9]*\%(-[a-z0-9]\+\)\+\>/ contained

" ---------------------------------------------------------------------------------------------
" Folding on blocks

syn region deployBlock matchgroup=deployBrace start=/{/ end=/}/ transparent fold
syn sync fromstart

" ---------------------------------------------------------------------------------------------
" Highlight links

hi def link deployComment       Comment
hi def link deployTodo          Todo
hi def link deploySuppression   PreProc
hi def link deployDirective     PreProc
hi def link deployLintCode      Special
hi def link deployString        String
hi def link deployRawString     String
hi def link deployEscape        SpecialChar
hi def link deployBraceEscape   SpecialChar
hi def link deployEscapeError   Error
hi def link deployPlaceholder   Identifier
hi def link deployItem          Structure
hi def link deployStrategy      Type
hi def link deployPhase         StorageClass
hi def link deployTrigger       Statement
hi def link deployLogical       Operator
hi def link deployControl       Statement
hi def link deployClause        Keyword
hi def link deployBuiltin       Function
hi def link deployConstant      Constant
hi def link deployKind          Type
hi def link deployEnv           Keyword
hi def link deployEnvVar        Identifier
hi def link deployBaseline      Special
hi def link deployWeekday       Constant
hi def link deployNumber        Number
hi def link deployDuration      Number
hi def link deployMultiplier    Number
hi def link deployPercent       Number
hi def link deployRate          Number
hi def link deployCheckin       Number
hi def link deployOffset        Number
hi def link deployTime          Number
hi def link deployDate          Number
hi def link deployOperator      Operator
hi def link deployDelimiter     Delimiter
hi def link deployBrace         Delimiter
hi def link deployAccessor      Delimiter
hi def link deployTypeName      Type
hi def link deployBlockName     Function
hi def link deployMigrationName Function
hi def link deployEvent         Constant
hi def link deployCall          Function
hi def link deployProperty      Identifier
hi def link deployParam         Identifier
hi def link deployMetricRef     Identifier
hi def link deployPath          Identifier
hi def link deployIdentifier    NONE

let b:current_syntax = 'deploy'

let &cpo = s:cpo_save
unlet s:cpo_save
