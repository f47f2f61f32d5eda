--- Tide's options: defaults, merging, validation, and the server settings they map to.
--- Pure Lua (no editor state), so the tests can check it directly.
local M = {}

--- Language ids (= Neovim filetypes) Tide attaches to by default.
M.default_filetypes = {
  'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact',
  'go', 'rust', 'java', 'c', 'cpp', 'lua', 'sh', 'ruby', 'php', 'cs', 'kotlin', 'swift', 'scala',
}

---@class tide.Keymaps
---@field accept string|false
---@field accept_word string|false
---@field accept_line string|false
---@field next string|false
---@field prev string|false
---@field dismiss string|false
---@field trigger string|false

---@class tide.Options
M.defaults = {
  --- The server command: a string (name or path) or a list (command and arguments).
  --- nil: `tide-lsp` on PATH, else `.venv/bin/tide-lsp` below the working directory.
  cmd = nil,
  --- Extra arguments after the command, e.g. { '--log-file', '/tmp/tide.log' }.
  args = {},
  --- Environment variables for the server process, over Neovim's own (which it inherits, so a
  --- TIDE_API_KEY in Neovim's environment reaches the server as it is), e.g. a team server's key
  --- from another variable: { TIDE_API_KEY = os.getenv('MY_TEAM_KEY') }. Kept out of
  --- vim.lsp.config('tide'), so that `:checkhealth vim.lsp` does not print the values.
  cmd_env = nil,
  filetypes = M.default_filetypes,
  root_markers = { '.git', 'pyproject.toml', 'setup.py', 'package.json', 'go.mod', 'Cargo.toml' },
  --- Server settings (camelCase, as the server names them; `:help tide-settings`): model,
  --- modelDir, engine, adapter, contextBudget, suffixShare, crossFileBudget, contextLength,
  --- maxTokens, maxLines, candidates, precompute, moveKv, threads, enable, disabledLanguages,
  --- diagnostics, unlikelySeverity, verifyFixes, runTests, testTimeout, logLevel, and for a
  --- team's completion server (model = 'http(s)://...'): serverTimeout, serverCaFile, apiKey
  --- (better left out: the server reads TIDE_API_KEY from its environment; see cmd_env).
  --- Sent as `initializationOptions` and as `{settings = {tide = ...}}`.
  settings = {},
  ghost_text = {
    enabled = true,
    --- 'auto': Neovim's own `vim.lsp.inline_completion` where it exists (0.12+), else the plugin's
    --- extmark renderer. 'plugin' and 'native' force one. Accept word/line need 'plugin'.
    mode = 'auto',
    --- Request a completion automatically while typing; false: only on `keymaps.trigger`.
    auto_trigger = true,
    debounce_ms = 75,
    hl_group = 'TideGhostText',
  },
  --- Next-edit suggestions: after you change the buffer, the change Tide expects next near the
  --- cursor (`textDocument/copilotInlineEdit`), drawn over the text it replaces. `keymaps.accept`
  --- (<Tab>) jumps to it, then accepts it (ghost text at the cursor goes first); `keymaps.dismiss`
  --- in insert mode and `normal_dismiss` in normal mode dismiss it. `:TideNextEdit` asks now.
  next_edit = {
    enabled = true,
    --- Milliseconds after the last change before asking.
    debounce_ms = 400,
    hl_delete = 'TideNextEditDelete',
    hl_add = 'TideNextEditAdd',
    --- Normal mode key that jumps to / accepts a shown edit (nil: keymaps.accept; false: none).
    normal_accept = nil,
    --- Normal mode key that dismisses a shown edit (false: none).
    normal_dismiss = '<Esc>',
  },
  completion = {
    --- Completion items through `vim.lsp.completion` (omnifunc, CTRL-X CTRL-O).
    enabled = true,
    autotrigger = false,
  },
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-w>',
    accept_line = '<M-l>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
    trigger = '<M-\\>',
  },
  --- Show model download/load progress ($/progress) in the message area.
  notify_progress = true,
}

--- Every setting the server takes. The server checks ranges and names what it refuses.
local SETTING_TYPES = {
  model = 'string',
  modelDir = 'string',
  engine = 'string',
  adapter = 'string',
  contextBudget = 'integer',
  suffixShare = 'number',
  crossFileBudget = 'count',
  contextLength = 'integer',
  maxTokens = 'integer',
  maxLines = 'integer',
  candidates = 'integer',
  precompute = 'boolean',
  moveKv = 'boolean',
  threads = 'integer',
  enable = 'boolean',
  disabledLanguages = 'list',
  diagnostics = 'boolean',
  unlikelySeverity = 'string',
  verifyFixes = 'boolean',
  runTests = 'boolean',
  testTimeout = 'integer',
  logLevel = 'string',
  serverTimeout = 'positive',
  serverCaFile = 'string',
  apiKey = 'string',
}
M.setting_types = SETTING_TYPES

--- Settings whose values are secret: sent to the server, never shown (not in a message, not in
--- :checkhealth, not in the client's settings that `:checkhealth vim.lsp` prints).
M.secret_settings = { apiKey = true }

--- A copy of `settings` without the secret ones.
function M.public_settings(settings)
  local out = {}
  for k, v in pairs(settings or {}) do
    if not M.secret_settings[k] then
      out[k] = v
    end
  end
  return out
end

--- The `cmd_env` option checked: a table of names to strings (numbers and booleans turned into
--- strings, as vim.system does), or nil; and the problems, which name variables, never values.
---@return table<string,string>|nil env, string[] problems
function M.cmd_env(opts)
  local env, problems = nil, {}
  local raw = opts.cmd_env
  if raw == nil or raw == vim.NIL then
    return nil, problems
  end
  if type(raw) ~= 'table' then
    return nil, { 'cmd_env must be a table of environment variables' }
  end
  for name, value in pairs(raw) do
    if type(name) ~= 'string' or name == '' then
      problems[#problems + 1] = 'cmd_env: variable names must be strings'
    elseif type(value) == 'string' or type(value) == 'number' or type(value) == 'boolean' then
      env = env or {}
      env[name] = tostring(value)
    elseif value ~= vim.NIL then
      problems[#problems + 1] = ('cmd_env.%s must be a string'):format(name)
    end
  end
  return env, problems
end

--- Merges user options over the defaults (lists replace, tables merge).
---@param user table|nil
---@return tide.Options
function M.merge(user)
  return vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), user or {})
end

--- Validates server settings; returns the clean settings and a list of problems.
---@param settings table
---@return table clean, string[] problems
function M.server_settings(settings)
  local clean, problems = {}, {}
  for key, value in pairs(settings or {}) do
    local want = SETTING_TYPES[key]
    if not want then
      problems[#problems + 1] = ('unknown setting %q'):format(key)
    elseif want == 'integer' then
      if type(value) == 'number' and value == math.floor(value) and value > 0 then
        clean[key] = value
      else
        problems[#problems + 1] = ('%s must be a positive integer'):format(key)
      end
    elseif want == 'positive' then
      if type(value) == 'number' and value > 0 and value < math.huge then
        clean[key] = value
      else
        problems[#problems + 1] = ('%s must be a positive number'):format(key)
      end
    elseif want == 'count' then
      if type(value) == 'number' and value == math.floor(value) and value >= 0 then
        clean[key] = value
      else
        problems[#problems + 1] = ('%s must be 0 or a positive integer'):format(key)
      end
    elseif want == 'list' then
      if vim.islist(value) and vim.iter(value):all(function(v) return type(v) == 'string' end) then
        clean[key] = value
      else
        problems[#problems + 1] = ('%s must be a list of language ids'):format(key)
      end
    elseif type(value) == want then
      if not (want == 'string' and value == '') then
        clean[key] = value
      end
    else
      problems[#problems + 1] = ('%s must be a %s'):format(key, want)
    end
  end
  return clean, problems
end

--- Whether completions are wanted for this filetype under these settings.
function M.enabled_for(settings, filetype)
  if settings.enable == false then
    return false
  end
  return not vim.list_contains(settings.disabledLanguages or {}, filetype)
end

--- The server command as a list, or nil and a message when it cannot be found.
---@param opts tide.Options
---@return string[]|nil cmd, string|nil err
function M.resolve_cmd(opts)
  local cmd = opts.cmd
  local list
  if type(cmd) == 'table' then
    list = vim.deepcopy(cmd)
  else
    local name = cmd or 'tide-lsp'
    local exe = vim.fn.exepath(vim.fn.expand(name))
    if exe == '' and not cmd then
      for _, dir in ipairs({ vim.fn.getcwd(), vim.fs.root(0, { '.git', 'pyproject.toml' }) }) do
        local cand = vim.fs.joinpath(dir, '.venv', 'bin', 'tide-lsp')
        if dir and vim.fn.executable(cand) == 1 then
          exe = cand
          break
        end
      end
    end
    if exe == '' then
      return nil,
        ('Tide: the language server `%s` was not found. Install it from the Tide checkout with '
          .. '`pip install -e .` (or `make demo`, which also fetches the model), or pass '
          .. '`cmd = "/path/to/tide-lsp"` to require("tide").setup().'):format(name)
    end
    list = { exe }
  end
  vim.list_extend(list, opts.args or {})
  return list, nil
end

--- Short text for a `tide/status` params table (for statuslines).
function M.format_status(st)
  if not st then
    return 'Tide'
  end
  local model = st.model and st.model ~= vim.NIL and vim.fn.fnamemodify(st.model, ':t'):gsub('%.gguf$', '') or nil
  local state = st.state or '?'
  local adapter = state == 'ready' and type(st.adapter) == 'string' and ' +adapter' or ''
  local parts = { 'Tide' .. (model and (' ' .. model) or '') .. adapter .. ':' }
  if state == 'downloading' and type(st.percent) == 'number' then
    parts[#parts + 1] = ('downloading %d%%'):format(st.percent)
  else
    parts[#parts + 1] = state
  end
  if state == 'ready' and type(st.latencyMs) == 'number' then
    local ms = st.latencyMs
    parts[#parts + 1] = ms < 1000 and ('%d ms'):format(math.floor(ms + 0.5)) or ('%.1f s'):format(ms / 1000)
  end
  return table.concat(parts, ' ')
end

return M
