-- Run by test.sh inside headless Neovim after the snippet and the file are
-- loaded. Prints "ok: ..." and quits with status 0, or prints the failure
-- and quits with status 1.
local function finish(ok, msg)
  io.stdout:write((ok and "ok: " or "FAIL: ") .. msg .. "\n")
  vim.cmd(ok and "qall!" or "cquit 1")
end

local buf = vim.api.nvim_get_current_buf()
if vim.bo[buf].filetype ~= "whisper" then
  return finish(false, "filetype is '" .. vim.bo[buf].filetype .. "', not whisper")
end

local function whisper_client()
  for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
    if c.name == "whisperc" then
      return c
    end
  end
end

if not vim.wait(20000, function() return whisper_client() ~= nil end, 50) then
  return finish(false, "no whisperc client attached to the buffer")
end
local client = whisper_client()

local diags
if not vim.wait(20000, function()
  diags = vim.diagnostic.get(buf)
  return #diags > 0
end, 50) then
  return finish(false, "no diagnostics received")
end
local found
for _, d in ipairs(diags) do
  if d.lnum == 2 and d.message:find("nf5", 1, true) and d.severity == vim.diagnostic.severity.ERROR then
    found = d
  end
end
if not found then
  return finish(false, "no error about nf5 on line 3 in " .. vim.inspect(diags))
end

-- Completion at the start of an empty line in the model block: attribute
-- names, as plain text.
vim.api.nvim_buf_set_lines(buf, 3, 3, false, { "  " })
local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 3, character = 2 } }
local res = client.request_sync("textDocument/completion", params, 10000, buf)
if not res or res.err or not res.result then
  return finish(false, "completion failed: " .. vim.inspect(res))
end
local items = res.result.items or res.result
if #items == 0 then
  return finish(false, "no completion items")
end
for _, it in ipairs(items) do
  local text = (it.textEdit and it.textEdit.newText) or it.insertText or it.label
  if it.insertTextFormat == 2 or text:find("[%$\n%z]") then
    return finish(false, "completion item " .. it.label .. " is a snippet: " .. vim.inspect(text))
  end
end

-- What the omnifunc inserts: the words Neovim's own conversion makes of
-- the items must be single lines (a newline would become a NUL byte).
local complete_items = vim.lsp.util.text_document_completion_list_to_complete_items(res.result, "")
for _, ci in ipairs(complete_items) do
  if ci.word:find("[\n%z]") or ci.word:find("$", 1, true) then
    return finish(false, "omnifunc would insert " .. vim.inspect(ci.word))
  end
end

finish(true, string.format("client %d attached, diagnostic %q, %d plain completion items",
  client.id, found.message:match("^[^\n]*"), #complete_items))
