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
    # and the pipeline said which of the two to deploy, from their calibrated valid figures
    assert pipeline.choice is not None and pipeline.choice.chosen in ("llm", "baseline"), pipeline.choice
    assert pipeline.llm.calibration is not None and pipeline.baseline.calibration is not None
    # and next month's export was predicted with more than one account, each line auto or review
    prediction = result.prediction
    predicted = pd.read_excel(prediction.output, sheet_name="전체")
    assert prediction.rows_predicted > 1000 and predicted["예측1 계정코드"].nunique() > 5
    assert set(predicted["처리"]) <= {"자동", "검토"}
    assert prediction.rows_auto + prediction.rows_review == prediction.rows_predicted
    assert "lines coded automatically" in prediction.headline()
