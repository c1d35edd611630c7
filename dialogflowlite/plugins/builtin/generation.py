"""Built-in plugin: response generators."""
