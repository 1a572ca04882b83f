"""Built-in checks: one module per area, registered through the exops.checks entry points."""
