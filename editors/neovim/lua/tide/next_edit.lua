--- Next-edit suggestions for Tide: after the buffer changes (debounced) asks the server with
--- `textDocument/copilotInlineEdit` for the cursor and the buffer's LSP version, draws the
--- answer as extmarks (the replaced range highlighted, the new text after it as inline virtual
--- text, or as virtual lines below when it has several lines), reports it with
--- `textDocument/didShowInlineEdit`, and lets <Tab> jump to it, then accept it. An answer for an
--- older version than the buffer's is dropped; ghost text at the cursor wins over an edit on the
--- cursor's line.
local M = {}

local buffer = require('tide.buffer')

M.ns = vim.api.nvim_create_namespace('tide.next_edit')

--- Options, set by tide.setup().
M.opts = {
  enabled = true,
  debounce_ms = 400,
  hl_delete = 'TideNextEditDelete',
  hl_add = 'TideNextEditAdd',
  enabled_for = function(_) return true end,
  --- Whether ghost text is shown at the cursor (set by tide.setup() for the ghost text engine).
  ghost_visible = function(_) return false end,
}

local METHOD = 'textDocument/copilotInlineEdit'
local DID_SHOW = 'textDocument/didShowInlineEdit'

---@class tide.NextEdit
---@field raw table      the edit as the server sent it
---@field text string
---@field row integer    0-based start row
---@field col integer    byte column of the start
---@field end_row integer
---@field end_col integer
---@field version integer the buffer's LSP version the edit is for

---@class tide.NextEditState
---@field client_id integer
---@field edit tide.NextEdit|nil
---@field shown boolean
---@field reported boolean
---@field request_id integer|nil
---@field timer uv.uv_timer_t|nil
---@field method_missing boolean
---@field last string|nil  what happened to the last answer (for tests and :checkhealth)

---@type table<integer, tide.NextEditState>
local states = {}

local function version_of(bufnr)
  return vim.lsp.util.buf_versions[bufnr]
end


--- Pure: which answer to keep. `raw` is the result, `uri`/`version` the buffer's now,
--- `asked` the version the request was made at. Returns the edit (as sent) or nil and why not.
---@return table|nil edit, string reason
function M.pick(raw, uri, version, asked)
  if asked ~= version then
    return nil, ('stale: asked at version %d, the buffer is at %d'):format(asked, version)
  end
  if type(raw) ~= 'table' or type(raw.edits) ~= 'table' or #raw.edits == 0 then
    return nil, 'no edit'
  end
  for _, e in ipairs(raw.edits) do
    local doc, range = e.textDocument, e.range
    if type(e.text) == 'string' and type(doc) == 'table' and type(range) == 'table' and doc.uri == uri then
      if doc.version ~= version then
        return nil, ('stale: the edit is for version %s, the buffer is at %d'):format(tostring(doc.version), version)
      end
      return e, 'ok'
    end
  end
  return nil, 'no edit for this buffer'
end

--- Pure: what <Tab> does with the cursor on `row` (0-based): accept on the edit's lines, else jump.
function M.tab_action(edit, row)
  return (row >= edit.row and row <= edit.end_row) and 'accept' or 'jump'
end

--- Pure: ghost text at the cursor wins over an edit on the cursor's line.
function M.ghost_wins(edit, row, ghost_visible)
  return ghost_visible and row >= edit.row and row <= edit.end_row
end

--- The edit in buffer coordinates, or nil when its range is not in the buffer.
---@return tide.NextEdit|nil
function M.normalize(bufnr, raw, encoding, version)
  local s, e = raw.range.start, raw.range['end']
  local first, last = buffer.line(bufnr, s.line), buffer.line(bufnr, e.line)
  if not first or not last then
    return nil
  end
  local edit = {
    raw = raw,
    text = raw.text,
    row = s.line,
    col = buffer.byte_col(first, s.character, encoding),
    end_row = e.line,
    end_col = buffer.byte_col(last, e.character, encoding),
    version = version,
  }
  if edit.end_row < edit.row or (edit.end_row == edit.row and edit.end_col < edit.col) then
    return nil
  end
  local old = vim.api.nvim_buf_get_text(bufnr, edit.row, edit.col, edit.end_row, edit.end_col, {})
  if table.concat(old, '\n') == edit.text then
    return nil -- changes nothing
  end
  return edit
end

local function clear_marks(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

local function cursor_row(bufnr)
  if vim.api.nvim_get_current_buf() ~= bufnr then
    return -1
  end
  return vim.api.nvim_win_get_cursor(0)[1] - 1
end

local function event(pattern, data)
  vim.api.nvim_exec_autocmds('User', { pattern = pattern, modeline = false, data = data })
end

--- Draws the buffer's edit (or hides it while ghost text at the cursor wins); returns whether it
--- is shown. The first time an edit is shown the server hears of it.
function M.render(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = states[bufnr]
  clear_marks(bufnr)
  if not st or not st.edit then
    if st then
      st.shown = false
    end
    return false
  end
  local edit = st.edit
  if edit.version ~= version_of(bufnr) then
    st.edit, st.shown = nil, false
    return false
  end
  if M.ghost_wins(edit, cursor_row(bufnr), M.opts.ghost_visible(bufnr)) then
    st.shown = false
    st.last = 'hidden: ghost text at the cursor wins'
    return false
  end
  local lines = vim.split(edit.text, '\n', { plain = true })
  local hl_add = M.opts.hl_add
  if edit.end_row > edit.row or edit.end_col > edit.col then
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, edit.row, edit.col, {
      end_row = edit.end_row,
      end_col = edit.end_col,
      hl_group = M.opts.hl_delete,
      hl_mode = 'combine',
      priority = 300,
    })
  end
  if edit.text ~= '' then
    local mark = { priority = 300, hl_mode = 'combine' }
    if #lines == 1 then
      mark.virt_text = { { lines[1], hl_add } }
      mark.virt_text_pos = 'inline'
    else
      mark.virt_lines = {}
      for _, l in ipairs(lines) do
        mark.virt_lines[#mark.virt_lines + 1] = { { l == '' and ' ' or l, hl_add } }
      end
    end
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, edit.end_row, edit.end_col, mark)
  end
  st.shown = true
  st.last = 'shown'
  if not st.reported then
    st.reported = true
    local client = vim.lsp.get_client_by_id(st.client_id)
    if client then
      client:notify(DID_SHOW, { item = edit.raw })
    end
    event('TideNextEdit', { bufnr = bufnr, edit = edit.raw })
  end
  return true
end

function M.visible(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = states[bufnr]
  return st ~= nil and st.shown and st.edit ~= nil and st.edit.version == version_of(bufnr)
end

local function cancel(bufnr)
  local st = states[bufnr]
  if st then
    buffer.stop_pending(st)
  end
end

--- Hides the edit and forgets it.
function M.clear(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = states[bufnr]
  if st then
    st.edit, st.shown, st.reported = nil, false, false
  end
  clear_marks(bufnr)
end

function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  cancel(bufnr)
  M.clear(bufnr)
  local st = states[bufnr]
  if st then
    st.last = 'dismissed'
  end
end

--- Asks for an edit at the cursor now.
---@param explicit boolean|nil asked by the user (:TideNextEdit): even after a MethodNotFound
function M.request(bufnr, explicit)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = states[bufnr]
  if not st or bufnr ~= vim.api.nvim_get_current_buf() or (st.method_missing and not explicit) then
    return false
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  if not client or client:is_stopped() then
    return false
  end
  cancel(bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local asked = version_of(bufnr)
  ---@diagnostic disable-next-line: inject-field
  params.textDocument.version = asked
  local ok, id
  ok, id = client:request(METHOD, params, function(err, result)
    if st.request_id ~= id then
      return -- superseded or cancelled
    end
    st.request_id = nil
    if err then
      if err.code == -32601 then
        st.method_missing = true
      elseif err.code ~= -32800 and err.code ~= -32801 then
        vim.lsp.log.warn('tide: copilotInlineEdit failed', err)
      end
      st.last = 'error ' .. tostring(err.code)
      return
    end
    if not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    local now = version_of(bufnr)
    local raw, why = M.pick(result, vim.uri_from_bufnr(bufnr), now, asked)
    local edit = raw and M.normalize(bufnr, raw, client.offset_encoding, now)
    if not edit then
      st.last = raw and 'no edit: out of range or changes nothing' or why
      event('TideNextEdit', { bufnr = bufnr, dropped = st.last })
      return
    end
    M.clear(bufnr)
    st.edit = edit
    M.render(bufnr)
  end, bufnr)
  if ok then
    st.request_id = id
  end
  return ok
end

local function schedule_request(bufnr)
  local st = states[bufnr]
  if not st or not M.opts.enabled or st.method_missing then
    return
  end
  if not M.opts.enabled_for(vim.bo[bufnr].filetype) then
    return
  end
  st.timer = st.timer or vim.uv.new_timer()
  st.timer:stop()
  st.timer:start(M.opts.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_buf_is_valid(bufnr) and bufnr == vim.api.nvim_get_current_buf() then
      M.request(bufnr)
    end
  end))
end

--- <Tab> with an edit shown: jump to it when the cursor is on other lines, else apply it.
--- Returns false when no edit is shown.
function M.tab(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not M.visible(bufnr) then
    return false
  end
  local edit = states[bufnr].edit
  if M.tab_action(edit, cursor_row(bufnr)) == 'jump' then
    vim.api.nvim_win_set_cursor(0, { edit.row + 1, edit.col })
    M.render(bufnr)
    return true
  end
  return M.accept(bufnr)
end

--- Applies the shown edit and puts the cursor after the new text.
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if not M.visible(bufnr) then
    return false
  end
  local edit = states[bufnr].edit
  M.clear(bufnr)
  local lines = vim.split(edit.text, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, edit.row, edit.col, edit.end_row, edit.end_col, lines)
  local last_row = edit.row + #lines - 1
  local last_col = #lines == 1 and edit.col + #lines[1] or #lines[#lines]
  if bufnr == vim.api.nvim_get_current_buf() then
    vim.api.nvim_win_set_cursor(0, { last_row + 1, last_col })
  end
  states[bufnr].last = 'accepted'
  event('TideNextEditAccept', { bufnr = bufnr, edit = edit.raw })
  return true
end

--- For tests and :checkhealth.
function M.debug_state(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = states[bufnr]
  if not st then
    return vim.NIL
  end
  local e = st.edit
  return {
    edit = e and { text = e.text, row = e.row, col = e.col, end_row = e.end_row, end_col = e.end_col, version = e.version } or vim.NIL,
    shown = st.shown,
    pending = st.request_id ~= nil,
    last = st.last or vim.NIL,
    version = version_of(bufnr),
  }
end

--- The next-edit extmarks, as { {row, col, end_row|nil, end_col|nil, hl_group|nil, inline_text, virt_lines} }.
function M.marks(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local out = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, M.ns, 0, -1, { details = true })) do
    local d = m[4]
    local more = {}
    for _, vl in ipairs(d.virt_lines or {}) do
      more[#more + 1] = vl[1] and vl[1][1] or ''
    end
    out[#out + 1] = {
      m[2], m[3], d.end_row or vim.NIL, d.end_col or vim.NIL, d.hl_group or vim.NIL,
      d.virt_text and d.virt_text[1] and d.virt_text[1][1] or '', more,
    }
  end
  return out
end

function M.attached(bufnr)
  return states[bufnr] ~= nil
end

function M.attach(bufnr, client_id)
  if states[bufnr] then
    states[bufnr].client_id = client_id
    states[bufnr].method_missing = false
    return
  end
  states[bufnr] = { client_id = client_id, shown = false, reported = false, method_missing = false }
  local group = vim.api.nvim_create_augroup('tide.next_edit.' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'TextChanged', 'TextChangedI', 'TextChangedP' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      cancel(bufnr)
      M.clear(bufnr)
      schedule_request(bufnr)
    end,
  })
  -- Ghost text comes and goes with the cursor: draw again (or hide) when it may have.
  vim.api.nvim_create_autocmd({ 'CursorMoved', 'CursorMovedI', 'InsertLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      vim.schedule(function()
        if states[bufnr] and states[bufnr].edit then
          M.render(bufnr)
        end
      end)
    end,
  })
  vim.api.nvim_create_autocmd('User', {
    group = group,
    pattern = 'TideGhostText',
    callback = function(ev)
      if ev.data and ev.data.bufnr == bufnr and states[bufnr] and states[bufnr].edit then
        M.render(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd('BufWipeout', {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
end

function M.detach(bufnr)
  buffer.release(states, bufnr, 'tide.next_edit.' .. bufnr, clear_marks)
end

return M
