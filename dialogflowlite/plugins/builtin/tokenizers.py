"""Built-in plugin: tokenizers."""
