"""Next-edit suggestions: the edit the developer will likely make next, near the cursor.

The model rewrites an editable region around the last edit, given the recent edits as a diff
and the file around the region; the suggestion is the minimal edit between the region and its
rewrite, offered only when it adds no syntax error. Plain functions and records, so each step
is testable without a server; `service.py` puts them together on the engine's worker.
"""
