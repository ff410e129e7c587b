"""Warm start (training/warm_start.py, params/paths.py: warm_start_folder, the training program, the pipeline's
label map): a run begins from a finished run's adapter and head, its codes kept at their slots."""

import json
from pathlib import Path

import pytest
import torch

from contracts.label_map import LabelMap, LabelSlot
from params.paths import warm_start_folder
from training.architecture import ModelConfigError
from training.warm_start import new_codes

SLOTS = 6


def label_map(codes: dict[str, int], slots: int = SLOTS) -> LabelMap:
    return LabelMap(num_slots=slots, dummy_prefix="__unused_",
                    labels=[LabelSlot(id=i, code=c, name=c) for c, i in codes.items()])  # fmt: skip


def test_new_codes_are_the_childs_codes_the_parent_never_knew():
    # given a parent with two codes and a child that keeps them and adds one
    parent, child = label_map({"811": 0, "830": 1}), label_map({"811": 0, "830": 1, "826": 2})
    # then the added code is named
    assert new_codes(parent, child) == ["826"]


def test_a_parent_code_at_another_slot_is_an_error_naming_the_fix():
    # given a child prepared without the parent's label map (830 moved)
    parent, child = label_map({"811": 0, "830": 1}), label_map({"811": 0, "826": 1, "830": 2})
    # then the warm start stops, saying how to prepare
    with pytest.raises(ModelConfigError, match="labels.label_map="):
        new_codes(parent, child)


def test_another_head_size_is_an_error():
    with pytest.raises(ModelConfigError, match="labels.num_slots"):
        new_codes(label_map({"811": 0}), label_map({"811": 0}, slots=8))


def finished_run(root: Path, name: str) -> Path:
    """A run folder whose final/ holds every file a finished LoRA run has (empty stand-ins)."""
    from contracts.run_folder import FINAL_FILES, RunFolder

    folder = RunFolder(root=str(root / "runs" / name))
    folder.final.mkdir(parents=True)
    for file in FINAL_FILES:
        (folder.final / file).parent.mkdir(parents=True, exist_ok=True)
        (folder.final / file).write_text("{}")
    return Path(folder.root)


def test_warm_start_folder_takes_a_run_its_final_or_latest(tmp_path):
    # given a finished run
    run = finished_run(tmp_path, "parent")
    # when named by its folder, its final/ or 'latest', then its final/ folder
    for value in (str(run), str(run / "final"), "latest"):
        assert warm_start_folder(value, tmp_path) == run / "final"


def test_warm_start_folder_refuses_an_unfinished_run(tmp_path):
    # given a run whose final/ misses files, then an error says what is missing
    run = finished_run(tmp_path, "crashed")
    next((run / "final").iterdir()).unlink()
    with pytest.raises(ValueError, match="not a finished run"):
        warm_start_folder(str(run), tmp_path)
    with pytest.raises(FileNotFoundError, match="no run folder"):
        warm_start_folder(str(tmp_path / "runs" / "nothing"), tmp_path)


# ---- through the flows: a parent run, then a warm start on a month with a new code ------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_warm_start_loads_the_parents_adapter_and_keeps_its_slots(tmp_path):
    from mlflow import MlflowClient
    from safetensors.torch import load_file

    from contracts.run_folder import RunFolder
    from flows.prepare import prepare_data
    from flows.summaries import training_origin
    from flows.train import train_model
    from monitor.registry import move_alias, registered_mark, tracking_uri
    from params.prepare import PrepareParams
    from params.train import TrainParams
    from synth.ledger import make_ledger, write_ledger
    from synth.tiny_model import make_tiny_model

    # given a parent run on a history, and a new month where 20 lines carry a code the history never used
    model = str(make_tiny_model(tmp_path / "tiny"))
    history = write_ledger(make_ledger(900, 12, seed=3), str(tmp_path / "history.csv"))
    month = make_ledger(300, 12, seed=3)
    month.loc[month.index[:20], ["계정코드", "계정과목"]] = ["826", "도서인쇄비"]
    month = write_ledger(month, str(tmp_path / "month.csv"))
    settings = {"max_steps": 6, "eval_steps": 6, "save_steps": 6, "logging_steps": 2,
                "per_device_train_batch_size": 16}  # fmt: skip
    first = prepare_data(PrepareParams(input=history, work_dir=str(tmp_path), model=model))
    parent = train_model(TrainParams(dataset=str(Path(first.dataset.path).parent), model=model,
                                     work_dir=str(tmp_path), run_name="parent", max_eval_samples=40,
                                     trainer={**settings, "learning_rate": 1e-3}))  # fmt: skip
    parent_map = Path(parent.final_dir) / "label_map.json"
    # and the parent's registered version holds the champion alias
    store = tracking_uri(None, str(tmp_path))
    move_alias(store, parent.registered, "champion", {})
    # when the month is prepared with the parent's label map and trained from the champion at learning rate 0
    second = prepare_data(PrepareParams(input=month, work_dir=str(tmp_path), model=model,
                                        labels={"label_map": str(parent_map)}))  # fmt: skip
    child = train_model(TrainParams(dataset=str(Path(second.dataset.path).parent), model=model,
                                    work_dir=str(tmp_path), run_name="child", max_eval_samples=40,
                                    warm_start="models:/account-tax@champion",
                                    trainer={**settings, "learning_rate": 0.0}))  # fmt: skip
    # then the child names its parent version and the new code, and the parent's codes kept their slots
    assert registered_mark(child.warm_start)["uri"] == parent.registered.uri and child.new_codes == ["826"]
    tags = MlflowClient(store).get_run(RunFolder.of(child.final_dir).mlflow_run_id.read_text().strip()).data.tags
    assert tags["account_tax.parent_model"] == parent.registered.uri
    assert tags["account_tax.parent_run_id"] == RunFolder.of(parent.final_dir).mlflow_run_id.read_text().strip()
    assert f"warm start from {parent.registered.uri}; 1 new code (826)" in training_origin(child)
    kept = LabelMap.read(Path(child.final_dir) / "label_map.json").code_to_id()
    assert all(kept[c] == i for c, i in LabelMap.read(parent_map).code_to_id().items())
    # and, nothing learned at rate 0, its adapter and head are the parent's, tensor for tensor
    before, after = (load_file(str(Path(o.final_dir) / "adapter_model.safetensors")) for o in (parent, child))
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # when the same month is trained from the parent with its head re-fitted by a probe (head.warm_init=probe)
    probed = train_model(TrainParams(dataset=str(Path(second.dataset.path).parent), model=model,
                                     work_dir=str(tmp_path), run_name="child-probed", max_eval_samples=40,
                                     warm_start=parent.final_dir, replay=0.5, head={"warm_init": "probe"},
                                     trainer={**settings, "learning_rate": 0.0}))  # fmt: skip
    # then the probe read the month's train lines and every parent train line (not only the replayed half) ...
    probe = json.loads(RunFolder.of(probed.final_dir).probe.read_text())
    assert probe["train_rows"] == second.dataset.rows["train"] + first.dataset.rows["train"]
    assert probed.replayed == round(first.dataset.rows["train"] * 0.5)
    # ... and only the head changed: the adapter is the parent's, the head's rows are the probe's
    refit = load_file(str(Path(probed.final_dir) / "adapter_model.safetensors"))
    heads = [k for k in before if "score" in k or "classifier" in k]
    assert heads and all(not torch.equal(before[k], refit[k]) for k in heads)
    assert all(torch.equal(before[k], refit[k]) for k in before if k not in heads)


def test_a_replay_holds_every_parent_code_and_draws_the_same_lines_on_every_launch(tmp_path):
    # given a parent whose train split has 3 codes of 200 lines and 2 of one line each, and a new month of 10 lines
    from datasets import Dataset, DatasetDict

    from contracts.run_folder import RUN_CONFIG_FILE
    from training.config import RunConfig, write_run_config
    from training.warm_start import with_replay

    labels = [0] * 200 + [1] * 200 + [2] * 200 + [3, 4]
    history = Dataset.from_dict({"input_ids": [[5, i % 7 + 6] for i in range(len(labels))], "label": labels})
    DatasetDict({"train": history}).save_to_disk(str(tmp_path / "data"))
    config = RunConfig(model_path="m", dataset_path=str(tmp_path / "data"), label_map="l", tokenizer_path="t",
                       output_dir="o", progress_file="p")  # fmt: skip
    write_run_config(config, tmp_path / "final" / RUN_CONFIG_FILE)
    month = Dataset.from_dict({"input_ids": [[5, 9]] * 10, "label": [5] * 10}).cast(history.features)
    # when 5% of the parent's lines are replayed, twice
    first, count = with_replay(month, tmp_path / "final", 0.05, seed=3)
    again, _ = with_replay(month, tmp_path / "final", 0.05, seed=3)
    # then the rare codes are among them (a plain 5% draw holds both once in ~400), the same lines each time
    assert count == 30 and len(first) == 40
    assert set(first["label"]) == {0, 1, 2, 3, 4, 5}
    assert first["input_ids"] == again["input_ids"] and first["label"] == again["label"]


def test_a_warm_probe_without_the_parents_train_lines_names_both_ways_out(tmp_path):
    # given a parent run whose train split is gone (another host's work dir), and a new month of 4 lines
    from datasets import Dataset, DatasetDict

    from contracts.run_folder import RUN_CONFIG_FILE
    from training.config import RunConfig, write_run_config
    from training.program import probe_warm_head

    common = {"model_path": "m", "label_map": "l", "tokenizer_path": "t", "output_dir": "o", "progress_file": "p"}
    write_run_config(RunConfig(dataset_path=str(tmp_path / "gone"), **common), tmp_path / "final" / RUN_CONFIG_FILE)
    month = DatasetDict({"train": Dataset.from_dict({"input_ids": [[5, 9]] * 4, "label": [1] * 4})})
    month.save_to_disk(str(tmp_path / "month"))
    config = RunConfig(dataset_path=str(tmp_path / "month"), warm_start=str(tmp_path / "final"),
                       head={"warm_init": "probe"}, **common)  # fmt: skip
    # when the warm head is to be re-fitted by a probe, then the error names the missing split and both settings
    with pytest.raises(ModelConfigError, match=r"warm_init=probe.*gone/train .*set head.warm_init to parent"):
        probe_warm_head(None, month, None, None, config, None, None)
