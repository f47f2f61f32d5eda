--- :TideFix: Tide's quick fixes for the cursor's line, resolved (`codeAction/resolve`) and applied.
local M = {}

local function tide_client(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = 'tide' })[1]
end

--- Tide's diagnostics on a row, as LSP diagnostics.
local function line_diagnostics(bufnr, client, row)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { lnum = row })) do
    local lsp_d = d.user_data and d.user_data.lsp
    local ns_ok = d.namespace == vim.lsp.diagnostic.get_namespace(client.id, false)
      or d.namespace == vim.lsp.diagnostic.get_namespace(client.id, true)
    if lsp_d and (ns_ok or d.source == 'tide') then
      out[#out + 1] = lsp_d
    end
  end
  return out
end

--- Quick fixes first; preferred first; the server's order otherwise.
function M.rank(actions)
  local list = {}
  for i, a in ipairs(actions or {}) do
    local kind = a.kind or ''
    if not a.disabled and (kind == '' or kind == 'quickfix' or vim.startswith(kind, 'quickfix.')) then
      list[#list + 1] = { a = a, i = i }
    end
  end
  table.sort(list, function(x, y)
    local px, py = x.a.isPreferred and 1 or 0, y.a.isPreferred and 1 or 0
    if px ~= py then
      return px > py
    end
    return x.i < y.i
  end)
  return vim.tbl_map(function(x) return x.a end, list)
end

local function done(bufnr, action)
  vim.api.nvim_exec_autocmds('User', { pattern = 'TideFixApplied', modeline = false, data = { bufnr = bufnr, title = action.title } })
end

function M.apply(client, bufnr, action)
  if type(action.command) == 'string' then -- a bare Command
    client:exec_cmd(action, { bufnr = bufnr })
    return done(bufnr, action)
  end
  local function finish(a)
    if a.edit then
      vim.lsp.util.apply_workspace_edit(a.edit, client.offset_encoding)
    end
    if a.command then
      client:exec_cmd(a.command, { bufnr = bufnr })
    end
    done(bufnr, a)
  end
  local provider = client.server_capabilities.codeActionProvider
  local can_resolve = type(provider) == 'table' and provider.resolveProvider
  if not action.edit and can_resolve then
    client:request('codeAction/resolve', action, function(err, resolved)
      if err then
        vim.notify('Tide: resolving the fix failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
        return
      end
      finish(resolved or action)
    end, bufnr)
  else
    finish(action)
  end
end

--- Finds and applies a fix at the cursor. opts.first: apply the best one without asking.
function M.fix(opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = tide_client(bufnr)
  if not client then
    vim.notify('Tide: no Tide server is attached to this buffer', vim.log.levels.WARN)
    return
  end
  if not client.server_capabilities.codeActionProvider then
    vim.notify('Tide: this server does not offer fixes (no codeActionProvider)', vim.log.levels.WARN)
    return
  end
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    range = {
      start = { line = row, character = 0 },
      ['end'] = { line = row, character = vim.str_utfindex(line, client.offset_encoding) },
    },
    context = {
      diagnostics = line_diagnostics(bufnr, client, row),
      only = { 'quickfix' },
      triggerKind = 1,
    },
  }
  client:request('textDocument/codeAction', params, function(err, result)
    if err then
      vim.notify('Tide: code actions failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local ranked = M.rank(result ~= vim.NIL and result or {})
    if #ranked == 0 then
      vim.notify('Tide: no fix on this line', vim.log.levels.INFO)
      vim.api.nvim_exec_autocmds('User', { pattern = 'TideFixNone', modeline = false, data = { bufnr = bufnr } })
      return
    end
    local preferred = vim.tbl_filter(function(a) return a.isPreferred end, ranked)
    if opts.first or #ranked == 1 or #preferred == 1 then
      return M.apply(client, bufnr, ranked[1])
    end
    vim.ui.select(ranked, {
      prompt = 'Tide fix:',
      format_item = function(a) return a.title .. (a.isPreferred and ' (preferred)' or '') end,
    }, function(choice)
      if choice then
        M.apply(client, bufnr, choice)
      end
    end)
  end, bufnr)
end

return M
