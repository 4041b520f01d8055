"""Dashboard pages: one module per page (see `parley.dashboard` for how to add one)."""
