--- Ghost text for Tide on Neovim without `vim.lsp.inline_completion` (0.11): requests
--- `textDocument/inlineCompletion`, renders the chosen item as extmarks (inline virtual text for
--- the rest of the cursor's line, virtual lines below for further lines), and accepts it whole, by
--- word or by line. Typing what the ghost text shows keeps it without a new request.
local M = {}

local buffer = require('tide.buffer')

M.ns = vim.api.nvim_create_namespace('tide.ghost')
local COUNTER_NS = vim.api.nvim_create_namespace('tide.ghost.counter')

local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

---@class tide.Item
---@field text string       plain text to insert (snippet placeholders removed)
---@field snippet string|nil the snippet, when the server sent one
---@field row integer        0-based row of the range start
---@field col integer        byte column of the range start
---@field tail integer       bytes from the range end to the end of its line when received
---@field command table|nil

---@class tide.State
---@field client_id integer
---@field items tide.Item[]
---@field index integer
---@field request_id integer|nil
---@field explicit boolean  an Invoked request has been made for this position
---@field dismissed_tick integer|nil
---@field timer uv.uv_timer_t|nil
---@field shown string|nil   the ghost text currently drawn

---@type table<integer, tide.State>
local states = {}

--- Options, set by tide.setup().
M.opts = {
  debounce_ms = 75,
  hl_group = 'TideGhostText',
  auto_trigger = true,
  enabled_for = function(_) return true end,
}

local function state(bufnr)
  return states[bufnr]
end

--- Removes snippet syntax: ${1:foo} -> foo, $1 / ${1} / $0 -> '', \$ -> $.
function M.snippet_to_text(s)
  local out = s
  for _ = 1, 5 do -- nested placeholders
    local n
    out, n = out:gsub('%${%d+:([^{}]*)}', '%1')
    if n == 0 then
      break
    end
  end
  out = out:gsub('%${%d+|([^,|}]*)[^}]*|}', '%1'):gsub('%${%d+}', ''):gsub('%$%d+', ''):gsub('\\([%$}\\])', '%1')
  return out
end

local byte_col = buffer.byte_col

local function get_line(bufnr, row)
  return buffer.line(bufnr, row) or ''
end

--- Converts the LSP response into items anchored in buffer coordinates.
---@param result table|nil InlineCompletionList or InlineCompletionItem[]
---@param bufnr integer
---@param pos {line: integer, character: integer} the request's position
---@param encoding string
---@return tide.Item[]
function M.normalize(result, bufnr, pos, encoding)
  if result == nil or result == vim.NIL then
    return {}
  end
  local raw = result.items or result
  local items, seen = {}, {}
  for _, it in ipairs(raw) do
    local text, snippet
    if type(it.insertText) == 'table' then
      snippet = it.insertText.value
      text = M.snippet_to_text(snippet or '')
    else
      text = it.insertText
    end
    if type(text) == 'string' and text ~= '' then
      local range = it.range
      local srow, scol, tail
      local cur_line = get_line(bufnr, pos.line)
      if range and range ~= vim.NIL and range.start.line == pos.line then
        srow = range.start.line
        scol = byte_col(cur_line, range.start.character, encoding)
        if range['end'].line == pos.line then
          tail = #cur_line - byte_col(cur_line, range['end'].character, encoding)
        end
      end
      srow = srow or pos.line
      scol = scol or byte_col(cur_line, pos.character, encoding)
      tail = tail or (#cur_line - byte_col(cur_line, pos.character, encoding))
      if not seen[text] then
        seen[text] = true
        items[#items + 1] = {
          text = text,
          snippet = snippet,
          row = srow,
          col = scol,
          tail = tail,
          command = it.command ~= vim.NIL and it.command or nil,
        }
      end
    end
  end
  return items
end

--- What is left to show of an item with the cursor at (row, col), or nil when the item no
--- longer fits what is in the buffer.
---@return string|nil ghost, integer|nil replace_end byte column where the item's range ends
function M.remaining(bufnr, item, row, col)
  if row ~= item.row or col < item.col then
    return nil
  end
  local line = get_line(bufnr, row)
  local typed = line:sub(item.col + 1, col)
  if item.text:sub(1, #typed) ~= typed then
    return nil
  end
  local ghost = item.text:sub(#typed + 1)
  if ghost == '' then
    return nil
  end
  local replace_end = math.max(col, #line - item.tail)
  return ghost, replace_end
end

local function clear_marks(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
    vim.api.nvim_buf_clear_namespace(bufnr, COUNTER_NS, 0, -1)
  end
end

--- The current item and its ghost text at the cursor, if one is showing.
function M.current(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = state(bufnr)
  if not st or #st.items == 0 then
    return nil
  end
  local item = st.items[st.index]
  local cursor = vim.api.nvim_win_get_cursor(0)
  local ghost, replace_end = M.remaining(bufnr, item, cursor[1] - 1, cursor[2])
  if not ghost then
    return nil
  end
  return { item = item, ghost = ghost, row = cursor[1] - 1, col = cursor[2], replace_end = replace_end, st = st }
end

--- Draws the current item; returns whether something is shown.
function M.render(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  clear_marks(bufnr)
  local cur = M.current(bufnr)
  local st = state(bufnr)
  if not cur then
    if st then
      st.shown = nil
    end
    return false
  end
  local lines = vim.split(cur.ghost, '\n', { plain = true })
  local line = get_line(bufnr, cur.row)
  local first = lines[1]
  -- The range may replace text after the cursor (e.g. an auto-inserted closing bracket); do not
  -- draw that text twice when the ghost text ends with it.
  local replaced = line:sub(cur.col + 1, cur.replace_end)
  if #lines == 1 and replaced ~= '' and first:sub(-#replaced) == replaced then
    first = first:sub(1, #first - #replaced)
  end
  local hl = M.opts.hl_group
  local mark = { hl_mode = 'combine', priority = 200 }
  if first ~= '' then
    mark.virt_text = { { first, hl } }
    mark.virt_text_pos = 'inline'
  end
  if #lines > 1 then
    mark.virt_lines = {}
    for i = 2, #lines do
      mark.virt_lines[#mark.virt_lines + 1] = { { lines[i] == '' and ' ' or lines[i], hl } }
    end
  end
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, cur.row, cur.col, mark)
  if #cur.st.items > 1 then
    vim.api.nvim_buf_set_extmark(bufnr, COUNTER_NS, cur.row, 0, {
      virt_text = { { (' (%d/%d)'):format(cur.st.index, #cur.st.items), hl } },
      virt_text_pos = 'eol',
    })
  end
  cur.st.shown = cur.ghost
  return true
end

function M.visible(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = state(bufnr)
  return st ~= nil and st.shown ~= nil and M.current(bufnr) ~= nil
end

local function cancel(bufnr)
  local st = state(bufnr)
  if st then
    buffer.stop_pending(st)
  end
end

--- Hides the ghost text and forgets the items.
function M.clear(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  cancel(bufnr)
  local st = state(bufnr)
  if st then
    st.items, st.index, st.shown, st.explicit = {}, 1, nil, false
  end
  clear_marks(bufnr)
end

--- Hides the ghost text until the buffer changes.
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  M.clear(bufnr)
  local st = state(bufnr)
  if st then
    st.dismissed_tick = vim.b[bufnr].changedtick
  end
end

--- Sends `textDocument/inlineCompletion` at the cursor.
---@param bufnr integer
---@param trigger_kind integer 1 Invoked, 2 Automatic
---@param on_done fun(items: tide.Item[])|nil
function M.request(bufnr, trigger_kind, on_done)
  local st = state(bufnr)
  if not st or bufnr ~= vim.api.nvim_get_current_buf() then
    return
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  if not client or client:is_stopped() then
    return
  end
  cancel(bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  ---@diagnostic disable-next-line: inject-field
  params.context = { triggerKind = trigger_kind }
  local tick = vim.b[bufnr].changedtick
  local ok, id
  ok, id = client:request('textDocument/inlineCompletion', params, function(err, result)
    if st.request_id ~= id then
      return -- superseded or cancelled
    end
    st.request_id = nil
    if err then
      if err.code ~= -32800 then -- RequestCancelled
        vim.lsp.log.warn('tide: inlineCompletion failed', err)
      end
      return
    end
    if not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    local items = M.normalize(result, bufnr, params.position, client.offset_encoding)
    if trigger_kind == TRIGGER_INVOKED and #st.items > 0 and #items > 0 then
      -- Cycling: keep what is shown and add the new alternatives after it.
      local merged, seen = vim.deepcopy(st.items), {}
      for _, it in ipairs(merged) do
        seen[it.text] = true
      end
      for _, it in ipairs(items) do
        if not seen[it.text] then
          merged[#merged + 1] = it
        end
      end
      st.items = merged
    elseif vim.b[bufnr].changedtick == tick or #items > 0 then
      st.items, st.index = items, 1
    end
    if trigger_kind == TRIGGER_INVOKED then
      st.explicit = true
    end
    local mode = vim.api.nvim_get_mode().mode
    if mode:sub(1, 1) == 'i' and bufnr == vim.api.nvim_get_current_buf() then
      M.render(bufnr)
    end
    if on_done then
      on_done(st.items)
    end
    vim.api.nvim_exec_autocmds('User', { pattern = 'TideGhostText', modeline = false, data = { bufnr = bufnr, count = #st.items } })
  end, bufnr)
  if ok then
    st.request_id = id
  end
end

--- Asks for a completion now (Invoked), e.g. from a keymap.
function M.trigger(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = state(bufnr)
  if st then
    st.dismissed_tick = nil
    st.items, st.index = {}, 1
  end
  M.request(bufnr, TRIGGER_INVOKED)
end

--- The server's `tide/inlineCompletionReady`: a suggestion it answered early has grown. Asked
--- again at once, as long as the user has neither typed nor moved since; the answer is the
--- whole, with no model run.
---@param params table { textDocument = { uri, version }, position = { line, character } }
---@param client_id integer
function M.on_ready(params, client_id)
  if type(params) ~= 'table' or type(params.textDocument) ~= 'table' or type(params.position) ~= 'table' then
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local st = state(bufnr)
  local client = vim.lsp.get_client_by_id(client_id)
  if not st or st.client_id ~= client_id or not client or st.request_id then
    return
  end
  if vim.api.nvim_get_mode().mode:sub(1, 1) ~= 'i' or vim.uri_from_bufnr(bufnr) ~= params.textDocument.uri then
    return
  end
  local version = vim.lsp.util.buf_versions[bufnr] or vim.b[bufnr].changedtick
  local here = vim.lsp.util.make_position_params(0, client.offset_encoding).position
  if version == params.textDocument.version and here.line == params.position.line
      and here.character == params.position.character then
    M.request(bufnr, TRIGGER_AUTOMATIC)
  end
end

local function schedule_request(bufnr)
  local st = state(bufnr)
  if not st or not M.opts.auto_trigger then
    return
  end
  if not M.opts.enabled_for(vim.bo[bufnr].filetype) then
    return
  end
  if st.dismissed_tick and st.dismissed_tick == vim.b[bufnr].changedtick then
    return
  end
  st.dismissed_tick = nil
  st.timer = st.timer or vim.uv.new_timer()
  st.timer:stop()
  st.timer:start(M.opts.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_get_mode().mode:sub(1, 1) == 'i' then
      M.request(bufnr, TRIGGER_AUTOMATIC)
    end
  end))
end

--- Called on InsertEnter, TextChangedI and CursorMovedI: keep the ghost text while the user
--- types through it, else ask again.
function M.on_change(bufnr)
  local st = state(bufnr)
  if not st then
    return
  end
  if #st.items > 0 and M.render(bufnr) then
    return
  end
  M.clear(bufnr)
  schedule_request(bufnr)
end

--- Replaces text and puts the cursor after it.
local function insert(bufnr, row, col, end_col, text)
  local lines = vim.split(text, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, row, end_col, lines)
  local last_row = row + #lines - 1
  local last_col = #lines == 1 and col + #lines[1] or #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { last_row + 1, last_col })
end

--- Accepts the whole suggestion.
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local cur = M.current(bufnr)
  if not cur then
    return false
  end
  local item, st = cur.item, cur.st
  -- Keep the typed prefix; insert the rest and replace what the range covers after the cursor.
  if item.snippet then
    vim.api.nvim_buf_set_text(bufnr, item.row, item.col, cur.row, cur.replace_end, { '' })
    vim.api.nvim_win_set_cursor(0, { item.row + 1, item.col })
    M.clear(bufnr)
    vim.snippet.expand(item.snippet)
  else
    insert(bufnr, cur.row, cur.col, cur.replace_end, cur.ghost)
    M.clear(bufnr)
  end
  if item.command then
    local client = vim.lsp.get_client_by_id(st.client_id)
    if client then
      client:exec_cmd(item.command, { bufnr = bufnr })
    end
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'TideAccept', modeline = false, data = { bufnr = bufnr, text = item.text } })
  return true
end

--- The next word of a ghost text (leading whitespace, newlines included, then a word or a run of
--- punctuation).
function M.next_word(ghost)
  return ghost:match('^%s*[%w_]+') or ghost:match('^%s*[^%w_%s]+') or ghost:match('^%s+') or ghost
end

--- The rest of the ghost text's first line; when it starts with a line break, that break and the
--- next line.
function M.next_line(ghost)
  local nl = ghost:find('\n', 1, true)
  if nl == 1 then
    local nl2 = ghost:find('\n', 2, true)
    return nl2 and ghost:sub(1, nl2 - 1) or ghost
  end
  return nl and ghost:sub(1, nl - 1) or ghost
end

local function accept_part(bufnr, pick)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local cur = M.current(bufnr)
  if not cur then
    return false
  end
  local part = pick(cur.ghost)
  if part == cur.ghost then
    return M.accept(bufnr)
  end
  insert(bufnr, cur.row, cur.col, cur.col, part)
  -- The item still fits the buffer (its range start is unchanged); draw the rest.
  M.render(bufnr)
  return true
end

function M.accept_word(bufnr)
  return accept_part(bufnr, M.next_word)
end

function M.accept_line(bufnr)
  return accept_part(bufnr, M.next_line)
end

--- Shows the next (count 1) or previous (count -1) suggestion. With one suggestion, asks the
--- server once more (Invoked) for alternatives.
function M.cycle(count, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = state(bufnr)
  if not st then
    return
  end
  local function step()
    if #st.items > 0 then
      st.index = ((st.index - 1 + count) % #st.items) + 1
      M.render(bufnr)
    end
  end
  if #st.items <= 1 and not st.explicit then
    M.request(bufnr, TRIGGER_INVOKED, function()
      step()
    end)
  else
    step()
  end
end

--- For tests and :checkhealth: a plain copy of the buffer's state.
function M.debug_state(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = state(bufnr)
  if not st then
    return vim.NIL
  end
  local texts = {}
  for i, it in ipairs(st.items) do
    texts[i] = it.text
  end
  return { items = texts, index = st.index, shown = st.shown or vim.NIL, pending = st.request_id ~= nil, explicit = st.explicit }
end

--- Ghost text extmarks in the buffer, as { {row, col, inline_text, virt_lines_text} }.
function M.marks(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local out = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, M.ns, 0, -1, { details = true })) do
    local d = m[4]
    local inline = d.virt_text and d.virt_text[1] and d.virt_text[1][1] or ''
    local more = {}
    for _, vl in ipairs(d.virt_lines or {}) do
      more[#more + 1] = vl[1] and vl[1][1] or ''
    end
    out[#out + 1] = { m[2], m[3], inline, more }
  end
  return out
end

--- Starts ghost text for a buffer and client.
function M.attach(bufnr, client_id)
  if states[bufnr] then
    states[bufnr].client_id = client_id
    return
  end
  states[bufnr] = { client_id = client_id, items = {}, index = 1, explicit = false }
  local group = vim.api.nvim_create_augroup('tide.ghost.' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'TextChangedP', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.on_change(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.clear(bufnr)
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
  buffer.release(states, bufnr, 'tide.ghost.' .. bufnr, clear_marks)
end

--- Test hook: shows these items (plain InlineCompletionItems) as if the server had sent them.
function M._show(bufnr, result, encoding)
  local st = states[bufnr]
  assert(st, 'tide: buffer not attached')
  local cursor = vim.api.nvim_win_get_cursor(0)
  local line = get_line(bufnr, cursor[1] - 1)
  local pos = { line = cursor[1] - 1, character = vim.str_utfindex(line, encoding or 'utf-16', cursor[2], false) }
  st.items, st.index = M.normalize(result, bufnr, pos, encoding or 'utf-16'), 1
  return M.render(bufnr)
end

return M
