"""Parameter models: one module per flow (the user's, shown in the Prefect UI form). No prefect here."""
