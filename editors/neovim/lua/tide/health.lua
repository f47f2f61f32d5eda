--- :checkhealth tide
local M = {}

function M.check()
  local health = vim.health
  health.start('tide: Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable)')
  end
  local tide = require('tide')
  local opts = tide.options
  if not opts then
    health.warn('require("tide").setup() has not been called')
    opts = require('tide.config').merge({})
  end
  local mode = tide.ghost_mode and tide.ghost_mode() or 'unknown'
  health.info('ghost text: ' .. mode .. (mode == 'native' and ' (vim.lsp.inline_completion)' or ' (extmarks)'))

  health.start('tide: server binary')
  local cmd, err = require('tide.config').resolve_cmd(opts)
  if not cmd then
    health.error(err or 'tide-lsp not found', { 'pip install -e . in the Tide checkout', 'or set cmd in setup()' })
  else
    health.ok('command: ' .. table.concat(cmd, ' '))
    local ok, res = pcall(function()
      return vim.system({ cmd[1], '--help' }, { text = true }):wait(30000)
    end)
    if ok and res.code == 0 then
      health.ok('`' .. cmd[1] .. ' --help` runs')
    else
      health.error('`' .. cmd[1] .. ' --help` failed: ' .. (ok and (res.stderr or ('exit ' .. tostring(res.code))) or tostring(res)))
    end
  end

  health.start('tide: model')
  local settings = opts.settings or {}
  health.info('model: ' .. (settings.model or "the server's default"))
  local model_dir = settings.modelDir or vim.fs.joinpath(vim.env.XDG_CACHE_HOME or vim.fs.joinpath(vim.env.HOME or '~', '.cache'), 'tide', 'models')
  local ggufs = vim.fn.glob(vim.fs.joinpath(model_dir, '**', '*.gguf'), false, true)
  if #ggufs > 0 then
    for _, f in ipairs(ggufs) do
      health.ok(('cached: %s (%.0f MB)'):format(f, vim.fn.getfsize(f) / 1e6))
    end
  else
    health.warn('no model cached in ' .. model_dir, { 'the server downloads it on first start, or run :TidePullModel' })
  end
  local _, problems = require('tide.config').server_settings(settings)
  for _, p in ipairs(problems) do
    health.warn('settings: ' .. p)
  end
  if type(settings.model) == 'string' and settings.model:match('^https?://') then
    -- Where the team server's key comes from; never the key itself.
    local env = require('tide.config').cmd_env(opts) or {}
    local from
    if settings.apiKey then
      from = 'settings.apiKey (better: TIDE_API_KEY in the environment, or cmd_env)'
    elseif env.TIDE_API_KEY then
      from = 'cmd_env.TIDE_API_KEY'
    elseif vim.env.TIDE_API_KEY then
      from = "TIDE_API_KEY in Neovim's environment"
    end
    if from then
      health.info('team server API key: from ' .. from)
    else
      health.info('team server API key: none (the server asks without one)')
    end
  end

  health.start('tide: state')
  local clients = vim.lsp.get_clients({ name = 'tide' })
  if #clients == 0 then
    health.info('no Tide server running (it starts when a buffer of a configured filetype opens)')
  end
  for _, client in ipairs(clients) do
    local st = tide.status[client.id]
    local text = require('tide.config').format_status(st)
    if st and st.state == 'error' then
      health.error(('client %d: %s%s'):format(client.id, text, st.message and st.message ~= vim.NIL and (' — ' .. st.message) or ''))
    elseif st and st.state == 'ready' then
      health.ok(('client %d: %s'):format(client.id, text))
    else
      health.info(('client %d: %s'):format(client.id, st and text or 'no tide/status received yet'))
    end
    local caps = client.server_capabilities or {}
    health.info(('inline completion: %s; completion: %s; code actions: %s'):format(
      caps.inlineCompletionProvider and 'yes' or 'no',
      caps.completionProvider and 'yes' or 'no',
      caps.codeActionProvider and 'yes' or 'no'))
  end
end

return M
