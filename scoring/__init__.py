"""Turning a model's scores into decisions an accountant can act on: calibration, the auto / review threshold,
review reasons, and their plots. Pure functions over numpy and pandas; never imports prefect."""
