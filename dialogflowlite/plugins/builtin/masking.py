"""Built-in plugin: masking personal data before it is stored or logged (off by default)."""
