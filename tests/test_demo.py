"""`make run` on a smaller ledger: the bundled real model through the whole demo (pipeline, then predict)."""

from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_the_demo_trains_the_real_model_beside_the_baseline_and_predicts(tmp_path):
    from flows.demo import demo

    # given no model folder at all: the demo on a 3,000-row synthetic ledger
    # when it runs
    result = demo(work_dir=str(tmp_path / "demo"), rows=3000)
    # then it trained the bundled real model, which learned, beside the baseline and its own linear probe
    pipeline = result.pipeline
    assert Path(pipeline.training.run_dir).name.startswith("all-MiniLM-L6-v2-")
    assert (tmp_path / "demo" / "models" / "all-MiniLM-L6-v2" / "model.safetensors").exists()
    assert pipeline.llm.learned, pipeline.llm.verdict
    assert pipeline.probe is not None and pipeline.baseline.metrics["f1_macro"] > 0
    # and next month's export was predicted with more than one account
    predicted = pd.read_excel(result.prediction.output)
    assert result.prediction.rows_predicted > 1000 and predicted["pred1_code"].nunique() > 5
