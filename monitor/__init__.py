"""What people watch while a flow runs: the MLflow store and the sink that feeds it, the UI progress bars.

Helpers, not stages: no @task here. No import of tasks/ or flows/."""
