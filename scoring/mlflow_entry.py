"""The registered MLflow model's code file ("models from code"). MLflow runs this file to build the model where it
would otherwise unpickle one; scoring.mlflow_model.save_pyfunc saves it beside the artifacts. Executed by MLflow,
never imported by the project: `set_model` is its whole purpose."""

from mlflow.models import set_model

from scoring.mlflow_model import AccountCodeModel

set_model(AccountCodeModel())
