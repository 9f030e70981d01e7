"""The project's own library: settings, event envelope, Kafka and database helpers, auth, logging."""
