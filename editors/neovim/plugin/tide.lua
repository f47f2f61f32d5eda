-- Tide: highlight groups only; everything else starts with require("tide").setup().
if vim.g.loaded_tide then
  return
end
vim.g.loaded_tide = true

local function highlights()
  vim.api.nvim_set_hl(0, 'TideGhostText', { link = 'Comment', default = true })
  -- Next edits: what goes (DiffDelete's colours, struck through) and what comes (DiffAdd).
  local del = vim.api.nvim_get_hl(0, { name = 'DiffDelete', link = false })
  vim.api.nvim_set_hl(0, 'TideNextEditDelete', { fg = del.fg, bg = del.bg, strikethrough = true, default = true })
  vim.api.nvim_set_hl(0, 'TideNextEditAdd', { link = 'DiffAdd', default = true })
end
highlights()
vim.api.nvim_create_autocmd('ColorScheme', {
  group = vim.api.nvim_create_augroup('tide.highlights', { clear = true }),
  callback = highlights,
})
