"""Bug-fix diagnostics and verified quick fixes, as plain functions over text and trees.

`problems` is the record every check yields; `syntax` and `unlikely` find problems (from the
tree-sitter tree, from model token scores); `answer` takes code out of a chat model's answer,
`minimal_edit` turns a fixed text into the smallest edit and a title, and `verify` decides
whether a candidate fix may be offered at all. None of them knows LSP or the model.
`diagnostics` puts syntax and unlikely code together as the server and `tide-lsp fix` report
them, scoring with the engine it is given.
"""
