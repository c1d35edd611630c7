"""Built-in plugins: the framework's own features, registered like any outside plugin."""
