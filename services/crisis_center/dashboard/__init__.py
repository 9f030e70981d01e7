"""The coordinators' dashboard: static page and assets (built from `frontend/`) and `router.dashboard_router`."""
