" Headless test of the Vim support: vim -Es -N -u NONE -i NONE -S editors/vim/test/run.vim
"
" * every fixture under test/fixtures/ is opened through filetype detection; its comment lines
"   of the form `#   ^^^ group` (or `# <- group`) assert the syntax group under each `^` on the
"   nearest code line above (synIDattr(synID(line, col, 1), 'name'));
" * every .deploy file of the project (examples/, stdlib/, tests/fixtures/parse/ok/) is opened
"   and must not highlight anything as an error;
" * the ftplugin's settings and the indent expression are checked.
set nocompatible
let s:here = expand('<sfile>:p:h')
let s:vimdir = fnamemodify(s:here, ':h')
let s:root = fnamemodify(s:vimdir, ':h:h')
execute 'set runtimepath^=' . fnameescape(s:vimdir)
filetype plugin indent on
syntax on

let s:failures = []
let s:checks = 0

function! s:Fail(msg) abort
  call add(s:failures, a:msg)
endfunction

function! s:Open(file) abort
  execute 'silent edit! ' . fnameescape(a:file)
  if &filetype !=# 'deploy'
    call s:Fail(a:file . ': filetype is "' . &filetype . '", expected "deploy"')
  endif
endfunction

function! s:CheckAssertions(file) abort
  call s:Open(a:file)
  let code = 0
  for lnum in range(1, line('$'))
    let text = getline(lnum)
    let m = matchlist(text, '^\(\s*#\)\(\s*\)\(\^\+\|<-\)\s\+\(\w\+\)\s*$')
    if empty(m)
      let code = lnum
      continue
    endif
    if m[3] ==# '<-'
      let cols = [1]
    else
      let first = len(m[1]) + len(m[2]) + 1
      let cols = range(first, first + len(m[3]) - 1)
    endif
    for col in cols
      let s:checks += 1
      let got = synIDattr(synID(code, col, 1), 'name')
      if got !=# m[4]
        call s:Fail(printf('%s:%d:%d: %s is %s, expected %s', fnamemodify(a:file, ':t'),
              \ code, col, string(getline(code)[col - 1]), empty(got) ? '(none)' : got, m[4]))
      endif
    endfor
  endfor
endfunction

function! s:CheckNoErrors(file) abort
  call s:Open(a:file)
  for lnum in range(1, line('$'))
    let text = getline(lnum)
    for col in range(1, len(text))
      let id = synID(lnum, col, 1)
      let s:checks += 1
      if synIDattr(synIDtrans(id), 'name') ==# 'Error'
        call s:Fail(printf('%s:%d:%d: highlighted as error (%s)', a:file, lnum, col,
              \ synIDattr(id, 'name')))
        break
      endif
    endfor
  endfor
endfunction

function! s:CheckSettings() abort
  call s:Open(s:here . '/fixtures/tokens.deploy')
  for [name, want] in [['commentstring', '# %s'], ['shiftwidth', 2], ['expandtab', 1],
        \ ['indentexpr', 'GetDeployIndent(v:lnum)'], ['syntax', 'deploy']]
    let s:checks += 1
    let got = eval('&l:' . name)
    if got !=# want
      call s:Fail(printf('option %s is %s, expected %s', name, string(got), string(want)))
    endif
  endfor
endfunction

" Reindents indent.deploy twice: as written, and with every line moved to column 0. Lines
" inside triple-quoted strings keep whatever indentation they have.
function! s:CheckIndent() abort
  let want = readfile(s:here . '/fixtures/indent.deploy')
  let raw = []
  let quotes = 0
  for line in want
    call add(raw, quotes % 2 == 1)
    let quotes += len(split(line, '"""', 1)) - 1
  endfor
  for flatten in [0, 1]
    call s:Open(s:here . '/fixtures/indent.deploy')
    if flatten
      %left
    endif
    silent normal! gg=G
    let got = getline(1, '$')
    for i in range(len(want))
      let s:checks += 1
      let expected = flatten && raw[i] ? trim(want[i], ' ', 1) : want[i]
      if get(got, i, '') !=# expected
        call s:Fail(printf('indent.deploy:%d (%s): reindented to %s, expected %s', i + 1,
              \ flatten ? 'from column 0' : 'as written', string(get(got, i, '')), string(expected)))
      endif
    endfor
    set nomodified
  endfor
endfunction

for s:f in glob(s:here . '/fixtures/*.deploy', 0, 1)
  if fnamemodify(s:f, ':t') !=# 'indent.deploy'
    call s:CheckAssertions(s:f)
  endif
endfor
for s:dir in ['examples', 'stdlib', 'tests/fixtures/parse/ok']
  for s:f in glob(s:root . '/' . s:dir . '/**/*.deploy', 0, 1)
    call s:CheckNoErrors(s:f)
  endfor
endfor
call s:CheckSettings()
call s:CheckIndent()

let s:out = [''] + s:failures + [printf('vim: %d checks, %d failures', s:checks, len(s:failures))]
call writefile(s:out, '/dev/stdout', 'a')
if empty(s:failures)
  qall!
endif
cquit!
