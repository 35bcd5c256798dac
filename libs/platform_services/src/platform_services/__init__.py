"""Platform-side extensions loaded by the webserver and daemon (never user code)."""
