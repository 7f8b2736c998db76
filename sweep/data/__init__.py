"""Data: tasks (raw rows -> labelled splits), the token cache, and length-bucketed loaders."""
