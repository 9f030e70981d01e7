"""Pure notifier logic: SMS encoding, delivery states, opt-out keywords, priorities. No I/O here."""
