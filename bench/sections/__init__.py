"""One module per table section; each ``run(ctx)`` returns its rows (baseline first)."""
