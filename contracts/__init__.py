"""Files the flows and the training program both read or write: one typed definition each. No prefect here."""
