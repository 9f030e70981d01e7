"""Intake: distress reports from officers, external systems, SMS and the voice line, on the charter's clocks."""
