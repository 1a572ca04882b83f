"""exops: find what is broken in Exchange, prove it, fix it safely, keep a record."""
__version__ = "0.1.0"
