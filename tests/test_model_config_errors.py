"""A model folder or LoRA / head setting that cannot work fails in the first seconds, before any data work or
launch, as one paragraph on the terminal; and a training program that meets one is never retried."""

from pathlib import Path

import pytest

from flows.pipeline import pipeline
from params.pipeline import PipelineParams
from params.prepare import PrepareParams
from params.train import TrainOptions
from tests.test_cli import api_url, cli, error_paragraph  # noqa: F401  (api_url is a fixture)
from training.architecture import ModelConfigError

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    from synth.tiny_model import make_tiny_model

    return str(make_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.mark.parametrize(
    ("train", "said"),
    [
        ({"lora": {"target_modules": ["query_key_value"]}}, "Linear layers: mlp.down_proj"),
        ({"lora": {"layers_to_transform": [-40]}}, "out of range for a model with 8 layers"),
        ({"lora": {"modules_to_save": ["pooler"]}}, "match no module"),
        ({"head": {"pooling": "mean"}}, "is for encoders"),
    ],
)
def test_a_setting_that_cannot_work_fails_before_any_data_work(tmp_path, ledger_csv, tiny_model, train, said):
    # given the tiny decoder and a LoRA / head setting it cannot take
    work = tmp_path / "work"
    params = PipelineParams(
        prepare=PrepareParams(input=str(ledger_csv), work_dir=str(work), model=tiny_model),
        train=TrainOptions.model_validate(train),
    )
    # when the pipeline runs / then it fails with a ModelConfigError naming the problem, and no stage ran
    with pytest.raises(ModelConfigError, match=said):
        pipeline(params)
    assert not (work / "stages").exists() and not (work / "datasets").exists() and not (work / "runs").exists()


@pytest.mark.slow  # a CLI subprocess against a server (~15 s)
def test_a_folder_that_is_not_a_model_is_one_paragraph(tmp_path, api_url, ledger_csv):  # noqa: F811
    # given a folder without config.json as --model
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    # when the pipeline is started from the command line
    done = cli(
        ["pipeline", "--input", str(ledger_csv), "--model", str(empty), "--work-dir", str(tmp_path / "w")],
        tmp_path,
        api_url,
    )
    # then one paragraph says what the folder lacks and which families work
    paragraph, log_file = error_paragraph(done, "pipeline")
    assert "has no config.json" in paragraph and "Qwen2/3, Llama" in paragraph
    assert "ModelConfigError" in log_file.read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_configuration_error_in_the_training_program_is_not_retried(tmp_path, tiny_model):
    from flows.prepare import prepare_data

    # given a prepared dataset and a run.yaml whose LoRA targets match nothing (the flow's check bypassed)
    from params.train import TrainParams
    from synth.ledger import make_ledger, write_ledger
    from tasks.train import plan_run, run_training
    from training.config import read_run_config, write_run_config

    ledger = write_ledger(make_ledger(300, 8, seed=1), str(tmp_path / "ledger.csv"))
    prepared = prepare_data(PrepareParams(input=ledger, work_dir=str(tmp_path), model=tiny_model))
    params = TrainParams(
        dataset=str(Path(prepared.dataset.path).parent), model=tiny_model, work_dir=str(tmp_path), launcher="python"
    )
    run = plan_run(params)
    config = read_run_config(run.config_path)
    config.lora.target_modules = ["no_such_module"]
    write_run_config(config, run.config_path)
    # when it is launched with two retries allowed
    with pytest.raises(ModelConfigError, match="no_such_module"):
        run_training.with_options(retries=2, retry_delay_seconds=0)(run, "python", 1, None)
    # then the program ran once: one start, one fatal event
    progress = Path(config.progress_file).read_text(encoding="utf-8")
    assert progress.count('"event": "fatal"') == 1
    assert Path(run.run_dir, "train.log").read_text().count("lora.target_modules") >= 1
