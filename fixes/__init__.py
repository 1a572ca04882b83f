"""Built-in fixes: one module per area, registered through the exops.fixes entry points."""
