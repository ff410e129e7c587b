"""Run train_model in its own process, as a worker would: `python tests/drivers/run_train.py PARAMS.json OUT.json`."""

import sys
from pathlib import Path

from flows.train import train_model
from params.train import TrainParams

if __name__ == "__main__":
    params = TrainParams.model_validate_json(Path(sys.argv[1]).read_text())
    outcome = train_model(params)
    Path(sys.argv[2]).write_text(outcome.model_dump_json())
