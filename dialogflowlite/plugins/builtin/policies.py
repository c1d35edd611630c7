"""Built-in plugin: dialogue policies."""
