"""Adapters of the crisis center to the outside: the live feed of crisis changes, and the Faust worker's plumbing
(contract events to commands, commits that wait for delivery, skipped records read again, internal topics)."""
