"""Built-in plugin: input channels."""
