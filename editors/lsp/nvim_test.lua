-- Neovim, headless, attached to `deployc lsp`: opens a file with an error and checks the
-- diagnostic Neovim shows and where go to definition takes the cursor.
--
--   DEPLOYC=target/debug/deployc nvim --headless -u NONE -i NONE -c "luafile editors/lsp/nvim_test.lua"
--
-- Written for Neovim 0.7 and later (`vim.lsp.start_client`, `vim.diagnostic`).

local function fail(message)
  io.stderr:write("FAIL nvim: " .. message .. "\n")
  vim.cmd("cquit 1")
end

local deployc = os.getenv("DEPLOYC")
if not deployc or deployc == "" then
  fail("DEPLOYC is not set")
end

local dir = vim.fn.tempname()
vim.fn.mkdir(dir .. "/.git", "p")
local file = dir .. "/nvim.deploy"
vim.fn.writefile({
  "import std.http",
  "service web { health = http \"http://localhost/health\" }",
  "team {",
  "  lead = \"a@example.com\"",
  "  rollback_decision = lead",
  "}",
  "environment production {",
  "  provider = local { command = \"app --port {port}\" }",
  "  approval = lead",
  "}",
  "release \"1.0.0\" {",
  "  strategy = canary { step 100% }",
  "  rollback { auto when eror_rate > 5% }",
  "}",
}, file)

vim.cmd("edit " .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local client = vim.lsp.start_client({ name = "deployc", cmd = { deployc, "lsp" }, root_dir = dir })
if not client then
  fail("the client did not start")
end
vim.lsp.buf_attach_client(buf, client)

if not vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 20) then
  fail("no diagnostics within 15 s")
end
local shown = vim.diagnostic.get(buf)
local d = shown[1]
local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
-- Line 13 (0-based 12), the column of `eror_rate` (0-based 23).
if code ~= "E201" or d.lnum ~= 12 or d.col ~= 23 then
  fail(string.format("expected E201 at 12:23, got %s at %d:%d: %s", tostring(code), d.lnum, d.col, d.message))
end
if not d.message:find("did you mean `error_rate`", 1, true) then
  fail("the help is missing: " .. d.message)
end
io.stdout:write(string.format("ok diagnostic %s at %d:%d shown", code, d.lnum, d.col) .. "\n")

-- Go to definition on `lead` in `approval = lead` (line 9) lands on the role in the team
-- (line 4, column 2).
vim.api.nvim_win_set_cursor(0, { 9, 13 })
vim.lsp.buf.definition()
local moved = vim.wait(10000, function()
  return vim.api.nvim_win_get_cursor(0)[1] ~= 9
end, 20)
local cursor = vim.api.nvim_win_get_cursor(0)
if not moved or cursor[1] ~= 4 or cursor[2] ~= 2 then
  fail(string.format("go to definition reached %d:%d, expected 4:2", cursor[1], cursor[2]))
end
io.stdout:write(string.format("ok go to definition reached %d:%d", cursor[1], cursor[2]) .. "\n")

vim.lsp.stop_client(client)
vim.wait(2000, function() return vim.lsp.get_client_by_id(client) == nil end, 20)
vim.fn.delete(dir, "rf")
vim.cmd("qall!")
