" Vim filetype plugin for deployc's .deploy runbooks.
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpo
set cpo&vim

" `#` starts a comment; `gcc`-style plugins and `:h 'commentstring'` use it.
setlocal commentstring=#\ %s
setlocal comments=:#
setlocal formatoptions-=t formatoptions+=croql

" Blocks are indented by two spaces, as in the language's examples.
setlocal expandtab
setlocal shiftwidth=2
setlocal softtabstop=2
setlocal tabstop=8
setlocal autoindent

" `gf` on "./team.deploy" and on `import` paths.
setlocal suffixesadd=.deploy
setlocal include=^\\s*import\\s\\+\"\\zs[^\"]\\+\\ze\"

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab<'
      \ . ' shiftwidth< softtabstop< tabstop< autoindent< suffixesadd< include<'

let &cpo = s:cpo_save
unlet s:cpo_save
