"""Input channels: REST, WebSocket and the console, each registered as a plugin."""
