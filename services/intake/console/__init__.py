"""The duty officers' console: static page and assets (built from `frontend/`) and `router.console_router`."""
