"""Built-in plugin: tracker stores and lock stores."""
