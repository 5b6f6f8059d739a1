" Filetype detection for deployc's .deploy runbooks.
autocmd BufRead,BufNewFile *.deploy setfiletype deploy
