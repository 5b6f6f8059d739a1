" Vim indent file for deployc's .deploy runbooks: one level per open `{` or `(`.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=GetDeployIndent(v:lnum)
setlocal indentkeys=0{,0},0),!^F,o,O
setlocal nolisp nosmartindent nocindent

let b:undo_indent = 'setlocal indentexpr< indentkeys< lisp< smartindent< cindent<'

if exists('*GetDeployIndent')
  finish
endif

" The text of a line without its comment and string contents.
function! s:Code(lnum) abort
  let line = getline(a:lnum)
  let line = substitute(line, '"\%([^"\\]\|\\.\)*"', '""', 'g')
  return substitute(line, '#.*$', '', '')
endfunction

" Whether a line lies inside a triple-quoted string (its indentation is left alone).
function! s:InRawString(lnum) abort
  let n = 0
  for l in range(1, a:lnum - 1)
    let n += len(split(getline(l), '"""', 1)) - 1
  endfor
  return n % 2 == 1
endfunction

function! GetDeployIndent(lnum) abort
  if s:InRawString(a:lnum)
    return indent(a:lnum)
  endif
  " The previous code line; a triple-quoted string counts as the line that opened it.
  let prev = prevnonblank(a:lnum - 1)
  while prev > 0 && s:InRawString(prev)
    let prev = prevnonblank(prev - 1)
  endwhile
  if prev == 0
    return 0
  endif
  let code = s:Code(prev)
  " Closers at the start of the previous line were already dedented there.
  let rest = substitute(code, '^\s*[})]*', '', '')
  let opens = len(substitute(rest, '[^{(]', '', 'g'))
  let closes = len(substitute(rest, '[^})]', '', 'g'))
  let ind = indent(prev) + shiftwidth() * (opens - closes)
  let leading = len(matchstr(s:Code(a:lnum), '^\s*\zs[})]*'))
  let ind -= shiftwidth() * leading
  return ind < 0 ? 0 : ind
endfunction
