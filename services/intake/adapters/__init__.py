"""Intake's adapters: SQL, TwiML, the officer cache."""
