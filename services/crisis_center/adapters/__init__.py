"""Adapters of the crisis center to the outside: the live feed of crisis changes."""
