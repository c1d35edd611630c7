"""The plugin system: hook specs, the plugin manager and the component registry."""
