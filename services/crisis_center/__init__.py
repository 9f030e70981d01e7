"""The crisis_center service."""
