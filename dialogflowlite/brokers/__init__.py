"""Event brokers: every stored conversation event, published to a log file or a database."""
