"""What the model sees: the text window around the cursor (and, later, other files)."""
