--- What the ghost text and the next-edit modules both do with a buffer: read its lines in LSP
--- terms, and stop and forget a buffer's pending work.
local M = {}

--- The 0-based line `row` of the buffer; nil past its end.
function M.line(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1]
end

--- The byte column of the LSP position `character` on `line`, counted in the client's
--- `encoding`, and never past the line's end.
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  return ok and math.min(col, #line) or #line
end

--- Stops a buffer state's debounce timer and cancels its request to the server, if any.
function M.stop_pending(st)
  if st.timer then
    st.timer:stop()
  end
  if st.request_id then
    local client = vim.lsp.get_client_by_id(st.client_id)
    if client then
      client:cancel_request(st.request_id)
    end
    st.request_id = nil
  end
end

--- Forgets buffer `bufnr` of a module's `states`: its pending work, its timer, its autocommand
--- group `group` and, through `clear_marks`, what it drew.
function M.release(states, bufnr, group, clear_marks)
  local st = states[bufnr]
  if not st then
    return
  end
  M.stop_pending(st)
  if st.timer then
    st.timer:close()
  end
  states[bufnr] = nil
  pcall(vim.api.nvim_del_augroup_by_name, group)
  clear_marks(bufnr)
end

return M
