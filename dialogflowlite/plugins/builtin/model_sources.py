"""Built-in plugin: where pretrained weights come from."""
