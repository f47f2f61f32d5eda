--- Tide for Neovim: registers `tide-lsp` with vim.lsp.config / vim.lsp.enable (0.11+), shows
--- ghost text (Neovim's own inline completion on 0.12+, the plugin's extmarks otherwise),
--- completion items through vim.lsp.completion, next-edit suggestions (tide.next_edit), and quick
--- fixes with :TideFix.
local config = require('tide.config')
local inline = require('tide.inline')
local next_edit = require('tide.next_edit')

local M = {}

--- Latest `tide/status` params per client id.
---@type table<integer, table>
M.status = {}
--- The merged options, after setup().
M.options = nil
--- The server settings in force (camelCase keys).
M.settings = {}

local function native_available()
  return vim.lsp.inline_completion ~= nil and type(vim.lsp.inline_completion.enable) == 'function'
end

--- 'native', 'plugin' or 'off'.
function M.ghost_mode()
  local g = (M.options or config.defaults).ghost_text
  if not g.enabled then
    return 'off'
  end
  if g.mode == 'plugin' then
    return 'plugin'
  end
  if native_available() and (g.mode == 'native' or g.mode == 'auto') then
    return 'native'
  end
  return 'plugin'
end

local function notify_settings()
  for _, client in ipairs(vim.lsp.get_clients({ name = 'tide' })) do
    -- The client keeps (and `:checkhealth vim.lsp` prints) the settings without the secret ones;
    -- the notification carries them all.
    client.settings = { tide = config.public_settings(M.settings) }
    client:notify('workspace/didChangeConfiguration', { settings = { tide = M.settings } })
  end
end

--- Adds the secret settings (apiKey) to `initialize`'s initializationOptions as it is sent: they
--- are kept out of vim.lsp.config('tide'), whose fields `:checkhealth vim.lsp` prints.
local function before_init(params)
  local secret = {}
  for key in pairs(config.secret_settings) do
    if M.settings[key] ~= nil then
      secret[key] = M.settings[key]
    end
  end
  if next(secret) then
    local init = params.initializationOptions
    params.initializationOptions = vim.tbl_extend('force', type(init) == 'table' and init or {}, secret)
  end
end

--- The server command for vim.lsp.config: the list itself, or, with `cmd_env`, a function that
--- starts the list with those variables over Neovim's environment. The function keeps the values
--- out of the config (a `cmd_env` field there is printed by `:checkhealth vim.lsp`).
local function server_cmd(list, env)
  if not env then
    return list
  end
  return function(dispatchers, cfg)
    cfg = cfg or {}
    return vim.lsp.rpc.start(list, dispatchers, { cwd = cfg.cmd_cwd, env = env, detached = cfg.detached })
  end
end

--- Changes one server setting (camelCase key) and sends it to the running servers.
function M.set(key, value)
  local s = vim.deepcopy(M.settings)
  s[key] = value
  local clean, problems = config.server_settings(s)
  if #problems > 0 then
    vim.notify('Tide: ' .. table.concat(problems, '; '), vim.log.levels.ERROR)
    return false
  end
  M.settings = clean
  notify_settings()
  return true
end

--- Turns completions off or on (the server's `enable` setting).
function M.toggle()
  local on = M.settings.enable ~= false
  M.set('enable', not on)
  if on then
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      inline.clear(buf)
      next_edit.dismiss(buf)
    end
  end
  vim.notify('Tide completions ' .. (on and 'off' or 'on'))
  return not on
end

--- Statusline text for the current buffer's Tide server ('' when none).
function M.statusline()
  local client = vim.lsp.get_clients({ bufnr = 0, name = 'tide' })[1]
  if not client then
    return ''
  end
  if M.settings.enable == false then
    return 'Tide: off'
  end
  return config.format_status(M.status[client.id])
end

local function on_status(_, params, ctx)
  if type(params) ~= 'table' then
    return
  end
  local prev = M.status[ctx.client_id] or {}
  if params.latencyMs == nil or params.latencyMs == vim.NIL then
    params.latencyMs = prev.latencyMs
  end
  M.status[ctx.client_id] = params
  if params.state == 'error' and prev.state ~= 'error' then
    vim.notify('Tide: ' .. tostring(params.message ~= vim.NIL and params.message or 'the server reported an error'), vim.log.levels.ERROR)
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'TideStatus', modeline = false, data = params })
end

--- The accept key (<Tab>): ghost text first, then a next edit (jump to it, then accept it), else
--- the key itself.
local function accept_rhs(bufnr, mode, fallback)
  return function()
    if mode == 'native' and vim.lsp.inline_completion.get() then
      return ''
    end
    if mode == 'plugin' and inline.visible(bufnr) then
      return '<Cmd>lua require("tide.inline").accept()<CR>'
    end
    if next_edit.visible(bufnr) then
      return '<Cmd>lua require("tide.next_edit").tab()<CR>'
    end
    return fallback or ''
  end
end

local function dismiss_rhs(bufnr, mode, fallback)
  return function()
    if mode == 'plugin' and inline.visible(bufnr) then
      return '<Cmd>lua require("tide.inline").dismiss()<CR>'
    end
    if next_edit.visible(bufnr) then
      return '<Cmd>lua require("tide.next_edit").dismiss()<CR>'
    end
    return fallback or ''
  end
end

--- Insert mode keymaps; `mode` is the ghost text engine ('native', 'plugin' or 'off': only the
--- next-edit keys).
local function set_keymaps(bufnr, mode)
  local km = M.options.keymaps
  local function map(lhs, desc, rhs, opts)
    if lhs and lhs ~= '' then
      vim.keymap.set('i', lhs, rhs, vim.tbl_extend('force', { buffer = bufnr, desc = 'Tide: ' .. desc }, opts or {}))
    end
  end
  local expr = { expr = true, replace_keycodes = true }
  map(km.accept, 'accept suggestion or next edit', accept_rhs(bufnr, mode, km.accept), expr)
  map(km.dismiss, 'dismiss suggestion or next edit', dismiss_rhs(bufnr, mode, km.dismiss), expr)
  if mode == 'native' then
    map(km.next, 'next suggestion', function() vim.lsp.inline_completion.select({ count = 1 }) end)
    map(km.prev, 'previous suggestion', function() vim.lsp.inline_completion.select({ count = -1 }) end)
    return
  end
  if mode == 'off' then
    return
  end
  local function when_visible(fn, fallback)
    return function()
      if inline.visible(bufnr) then
        return ('<Cmd>lua require("tide.inline").%s()<CR>'):format(fn)
      end
      return fallback or ''
    end
  end
  map(km.accept_word, 'accept next word', when_visible('accept_word'), expr)
  map(km.accept_line, 'accept next line', when_visible('accept_line'), expr)
  map(km.next, 'next suggestion', function() inline.cycle(1, bufnr) end)
  map(km.prev, 'previous suggestion', function() inline.cycle(-1, bufnr) end)
  map(km.trigger, 'ask for a suggestion', function() inline.trigger(bufnr) end)
end

--- Normal mode keys for a shown next edit: the accept key jumps to it, then accepts it; <Esc>
--- dismisses it. Either is the key itself when no edit is shown.
local function set_next_edit_keymaps(bufnr)
  local km = M.options.keymaps
  local ne = M.options.next_edit
  local function map(lhs, desc, rhs)
    if lhs and lhs ~= '' then
      vim.keymap.set('n', lhs, rhs, { buffer = bufnr, desc = 'Tide: ' .. desc, expr = true, replace_keycodes = true })
    end
  end
  map(ne.normal_accept == nil and km.accept or ne.normal_accept, 'go to, then accept the next edit', function()
    if next_edit.visible(bufnr) then
      return '<Cmd>lua require("tide.next_edit").tab()<CR>'
    end
    return ne.normal_accept == nil and km.accept or ne.normal_accept
  end)
  map(ne.normal_dismiss, 'dismiss the next edit', function()
    if next_edit.visible(bufnr) then
      return '<Cmd>lua require("tide.next_edit").dismiss()<CR>'
    end
    return ne.normal_dismiss
  end)
end

--- Starts next-edit suggestions in a buffer for a client, with the normal mode keys.
function M._attach_next_edit(bufnr, client_id)
  next_edit.attach(bufnr, client_id)
  set_next_edit_keymaps(bufnr)
end

local function on_attach(client, bufnr)
  local opts = M.options
  if opts.completion.enabled and client:supports_method('textDocument/completion', bufnr) then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = opts.completion.autotrigger })
  end
  if opts.next_edit.enabled then
    M._attach_next_edit(bufnr, client.id)
  end
  local mode = M.ghost_mode()
  if mode == 'off' or not client:supports_method('textDocument/inlineCompletion', bufnr) then
    -- No ghost text: the accept and dismiss keys still serve next edits.
    set_keymaps(bufnr, 'off')
    return
  end
  M._attach_ghost(bufnr, client.id, mode)
end

--- Starts ghost text in a buffer for a client: the engine and the keymaps.
function M._attach_ghost(bufnr, client_id, mode)
  mode = mode or M.ghost_mode()
  if mode == 'native' then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  else
    inline.attach(bufnr, client_id)
  end
  set_keymaps(bufnr, mode)
end

local function create_commands()
  vim.api.nvim_create_user_command('TideFix', function(a)
    require('tide.fix').fix({ first = a.bang })
  end, { bang = true, desc = 'Tide: apply a quick fix on the cursor line (! applies the best without asking)' })
  vim.api.nvim_create_user_command('TideToggle', function()
    M.toggle()
  end, { desc = 'Tide: turn completions off or on' })
  vim.api.nvim_create_user_command('TideStatus', function()
    local clients = vim.lsp.get_clients({ name = 'tide' })
    if #clients == 0 then
      print('Tide: no server running')
    end
    for _, c in ipairs(clients) do
      print(('[%d] %s'):format(c.id, config.format_status(M.status[c.id])))
    end
  end, { desc = "Tide: show the server's state" })
  vim.api.nvim_create_user_command('TidePullModel', function(a)
    local client = vim.lsp.get_clients({ name = 'tide' })[1]
    if not client then
      vim.notify('Tide: no server running', vim.log.levels.ERROR)
      return
    end
    local name = a.args ~= '' and a.args or nil
    client:request('workspace/executeCommand', { command = 'tide.pullModel', arguments = name and { name } or {} }, function(err)
      if err then
        vim.notify('Tide: pulling the model failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      else
        vim.notify('Tide: model ' .. (name or '(default)') .. ' is ready')
      end
    end)
  end, { nargs = '?', desc = 'Tide: download a model (default: the configured one)' })
  vim.api.nvim_create_user_command('TideNextEdit', function()
    local bufnr = vim.api.nvim_get_current_buf()
    if not next_edit.attached(bufnr) then
      local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'tide' })[1]
      if not client then
        vim.notify('Tide: no server attached to this buffer', vim.log.levels.ERROR)
        return
      end
      M._attach_next_edit(bufnr, client.id)
    end
    next_edit.request(bufnr, true)
  end, { desc = 'Tide: ask for a next-edit suggestion at the cursor now' })
  vim.api.nvim_create_user_command('TideLog', function()
    vim.cmd.tabedit(vim.lsp.log.get_filename())
  end, { desc = "Tide: open Neovim's LSP log (server stderr goes there)" })
end

---@param user tide.Options|nil
function M.setup(user)
  if vim.fn.has('nvim-0.11') ~= 1 then
    vim.notify('Tide needs Neovim 0.11 or newer', vim.log.levels.ERROR)
    return
  end
  local opts = config.merge(user)
  M.options = opts
  local settings, problems = config.server_settings(opts.settings)
  for _, p in ipairs(problems) do
    vim.notify('Tide settings: ' .. p, vim.log.levels.WARN)
  end
  local env, env_problems = config.cmd_env(opts)
  for _, p in ipairs(env_problems) do
    vim.notify('Tide: ' .. p, vim.log.levels.WARN)
  end
  M.settings = settings
  inline.opts = {
    debounce_ms = opts.ghost_text.debounce_ms,
    hl_group = opts.ghost_text.hl_group,
    auto_trigger = opts.ghost_text.auto_trigger,
    enabled_for = function(ft)
      return config.enabled_for(M.settings, ft)
    end,
  }
  next_edit.opts = {
    enabled = opts.next_edit.enabled,
    debounce_ms = opts.next_edit.debounce_ms,
    hl_delete = opts.next_edit.hl_delete,
    hl_add = opts.next_edit.hl_add,
    enabled_for = function(ft)
      return config.enabled_for(M.settings, ft)
    end,
    ghost_visible = function(bufnr)
      return M.ghost_mode() == 'plugin' and inline.visible(bufnr)
    end,
  }
  create_commands()

  local cmd, err = config.resolve_cmd(opts)
  --- The resolved server command (a list), whatever form vim.lsp.config holds it in.
  M.cmd = cmd
  local public = config.public_settings(settings)
  vim.lsp.config('tide', {
    cmd = server_cmd(cmd or { 'tide-lsp' }, env),
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = public,
    settings = { tide = public },
    before_init = before_init,
    capabilities = {
      textDocument = { inlineCompletion = { dynamicRegistration = false } },
      window = { workDoneProgress = true },
      -- The plugin's ghost text asks again when the rest of an early suggestion is ready.
      experimental = { tide = { inlineCompletionReady = M.ghost_mode() == 'plugin' } },
    },
    handlers = {
      ['tide/status'] = on_status,
      ['tide/inlineCompletionReady'] = function(_, params, ctx)
        inline.on_ready(params, ctx.client_id)
      end,
    },
  })

  local group = vim.api.nvim_create_augroup('tide', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == 'tide' then
        on_attach(client, ev.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == 'tide' then
        inline.detach(ev.buf)
        next_edit.detach(ev.buf)
      end
    end,
  })
  if opts.notify_progress then
    vim.api.nvim_create_autocmd('LspProgress', {
      group = group,
      callback = function(ev)
        local client = vim.lsp.get_client_by_id(ev.data.client_id)
        local value = ev.data.params and ev.data.params.value
        if not client or client.name ~= 'tide' or type(value) ~= 'table' then
          return
        end
        local title = value.title or ''
        local text = ('%s%s%s%s'):format(
          title:lower():match('^tide') and '' or 'Tide: ',
          title,
          value.message and (' ' .. value.message) or '',
          value.percentage and (' %d%%'):format(value.percentage) or '')
        if value.kind == 'end' then
          text = 'Tide: ' .. (value.message or 'done')
        end
        vim.api.nvim_echo({ { text } }, false, {})
      end,
    })
  end

  if not cmd then
    vim.notify(err, vim.log.levels.WARN)
    return
  end
  vim.lsp.enable('tide')
end

return M
