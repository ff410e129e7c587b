"""`make gpu-check` (bench/gpu_check.py): no GPU, one line; shapes, FLOPs, MFU peaks; its report; the rehearsal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gpu_models import flops_per_token, parameter_counts, peak_tflops, shape_config
from bench.gpu_report import render

ROOT = Path(__file__).resolve().parent.parent


def test_without_a_gpu_it_says_so_in_one_line_and_succeeds():
    # given this machine (no CUDA GPU) / when gpu-check runs as `make gpu-check` runs it
    done = subprocess.run([sys.executable, "-m", "bench.gpu_check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    # then one line says so, and the exit status is 0
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and "no CUDA GPU" in lines[0]


PREFECT_FREE = """
import sys
for name in ("prefect", "mlflow", "pandera"):  # None in sys.modules: import fails, find_spec says absent
    sys.modules[name] = None
import bench.gpu_check, bench.gpu_runs, bench.gpu_models, bench.gpu_report, synth.tiny_model, synth.ledger
import training.__main__, training.launcher, training.batching, training.model, training.config, training.trainer
import contracts.label_map, ledger.conf, ledger.work_store, training.checkpoints, training.callbacks
print("prefect-free")
"""


def test_the_measuring_stages_import_no_prefect_mlflow_or_pandera():
    # given an interpreter where prefect, mlflow and pandera cannot be imported (a bare GPU host)
    done = subprocess.run([sys.executable, "-c", PREFECT_FREE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    # when the gpu-check modules and the training program are imported / then none of them needs those
    assert done.returncode == 0 and "prefect-free" in done.stdout, done.stderr[-2000:]


def test_shapes_are_the_real_checkpoints_architecture():
    # given conf/gpu_shapes.yaml / then the 4B shape is Qwen3-4B's, and a rehearsal shrinks only the sizes
    four_b = shape_config("qwen3-4b")
    assert (four_b["hidden_size"], four_b["num_hidden_layers"], four_b["num_attention_heads"]) == (2560, 36, 32)
    assert (four_b["intermediate_size"], four_b["num_key_value_heads"], four_b["vocab_size"]) == (9728, 8, 151936)
    shrunk = shape_config("qwen3-4b", rehearse=True)
    assert shrunk["model_type"] == "qwen3" and shrunk["hidden_size"] == 64
    with pytest.raises(ValueError, match="unknown shape"):
        shape_config("qwen3-70b")


@pytest.mark.parametrize(
    "name, peak",
    [("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H200", 989.0),
     ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L40S", 362.0), ("NVIDIA L4", 121.0), ("Tesla T4", None)],
)  # fmt: skip
def test_peak_flops_come_from_the_device_name(name, peak):
    assert peak_tflops(name) == peak


def test_flops_count_what_a_lora_run_computes():
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from training.architecture import read_layout
    from training.config import HeadSettings, LoraSettings
    from training.model import apply_lora

    # given a 4-layer Qwen3-shaped classifier with LoRA (r=2) on the attention of its last 2 layers
    values = {**shape_config("qwen3-0.6b", rehearse=True), "num_hidden_layers": 4, "num_labels": 3}
    config = AutoConfig.for_model(**values)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    per_layer = sum(m.weight.numel() for n, m in model.named_modules() if n.startswith("model.layers.0.") and
                    isinstance(m, torch.nn.Linear))  # fmt: skip
    head = 64 * 3
    lora = LoraSettings(r=2, layers_to_transform=[-2, -1])
    folder = _config_folder(config)
    wrapped = apply_lora(model, lora, read_layout(folder, lora, HeadSettings()), [])
    # when counted
    counts = parameter_counts(wrapped)
    flops = flops_per_token(counts)
    # then every matmul weight counts in the forward, the input gradients stop at layer 2, weight gradients are
    # the trainable ones only (q, k, v, o adapters of 2 layers + the head)
    assert counts["linear"] == 4 * per_layer + head
    assert counts["linear_from_first_lora_layer"] == 2 * per_layer + head
    assert counts["trainable"] == sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    assert flops["six_n"] == 6 * counts["linear"]
    assert flops["lora"] == 2 * counts["linear"] + 2 * counts["linear_from_first_lora_layer"] + 2 * counts["trainable"]
    assert flops["lora"] < flops["six_n"]


def _config_folder(config) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gpu-shape-"))
    config.save_pretrained(folder)
    (folder / "model.safetensors").write_bytes(b"")  # read_layout checks that weights exist, never reads them
    return folder


RESULTS = {
    "date": "2026-11-29 12:00 UTC", "rehearsal": False, "gpu": "NVIDIA H100 80GB HBM3", "gpus": 2, "cuda": "12.8",
    "python": "3.12", "libraries": {"torch": "2.13.0"}, "minutes": 9.5,
    "checks": {"shape": "qwen3-0.6b", "gpus": 2, "learns": {"ok": True, "losses": [3.1, 2.0]},
               "resumes": {"ok": False, "global_step": [55, 60]}, "peft_loads": {"ok": True},
               "predicts": {"ok": True, "device": "cuda"}},
    "throughput": [{"shape": "qwen3-4b", "gpus": 2, "variant": "plain", "batch": 16, "samples_per_s": 50.0,
                    "tokens_per_s_real": 6000.0, "tokens_per_s_padded": 6200.0, "real_share": 0.97,
                    "mfu": {"six_n": 0.41, "lora": 0.22}, "peak_gb": 30.5}],
    "kernels": [{"shape": "qwen3-0.6b", "variant": "liger", "skipped": "liger-kernel not installed"}],
    "batch": [{"shape": "qwen3-4b", "largest_batch": 96, "peak_gb_at_largest": 70.2, "ceiling_reached": False}],
}  # fmt: skip


def test_report_shows_gpu_checks_throughput_and_batch():
    # given results of a 2-GPU run with one failed check / when rendered
    text = render(RESULTS)
    # then the GPU and versions, the failed check, per-GPU tokens, MFU both ways, the skipped kernel, the batch
    assert "NVIDIA H100 80GB HBM3 x 2" in text and "torch 2.13.0" in text
    assert "| resumes | **FAILED** |" in text and "| learns | ok |" in text
    assert "| qwen3-4b | 2 | plain | 16 | 50.0 | 3,000 / 3,100 | 0.970 | 41.0% / 22.0% | 30.5 |" in text
    assert "skipped: liger-kernel not installed" in text
    assert "| qwen3-4b | 96 | 70.2 |" in text


def test_gpu_hours_estimate_uses_the_measured_4b_tokens_per_second(tmp_path):
    from bench.cost_report import gpu_estimate

    # given cost figures (70 tokens a line, 0.98 real share) and a gpu-check of 2 GPUs at 7,000 padded tokens/s
    tokens = {"tokens": {"mean": 70.0, "max_length": 256}, "padding": {"group_by_length@8": {"real_share": 0.98}}}
    figures = {"templates": {"compact": {"tokenizers": {"tiny byte-level BPE (256)": tokens}}}}
    gpu = tmp_path / "gpu-results.json"
    gpu.write_text(json.dumps({"gpu": "H100", "throughput": [{"shape": "qwen3-4b", "gpus": 2, "batch": 16,
                                                              "tokens_per_s_padded": 7000.0}]}))  # fmt: skip
    # when / then: 1M x 70 / 0.98 / 3,500 per GPU / 3600 = 5.67 GPU-hours
    assert "**5.67**" in gpu_estimate(figures, "compact", gpu)[0]
    # and without a gpu-check the figure is said to be missing
    assert "**missing**" in gpu_estimate(figures, "compact", tmp_path / "none.json")[0]


@pytest.mark.slow
def test_rehearsal_runs_every_stage_on_the_cpu(tmp_path):
    # given no GPU / when the whole script is rehearsed on shrunken shapes
    cmd = [sys.executable, "-m", "bench.gpu_check", "--rehearse", "--root", str(tmp_path), "--shapes", "qwen3-0.6b"]
    committed = ROOT / "bench" / "RESULTS-gpu.md"
    before = committed.read_bytes() if committed.exists() else None
    # its flows start an ephemeral Prefect server: on 2 busy cores that takes longer than Prefect's default 20 s
    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1500, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # then every check held through the flows, and throughput, kernels and batch were measured
    results = json.loads((tmp_path / "rehearsal" / "gpu-results.json").read_text())
    checks = results["checks"]
    assert all(checks[name]["ok"] for name in ("learns", "resumes", "peft_loads", "predicts")), checks
    assert checks["resumes"]["resumed_from"] and checks["resumes"]["killed_after"]
    assert results["throughput"][0]["tokens_per_s_padded"] > 0 and results["throughput"][0]["real_share"] > 0.9
    assert {k["variant"] for k in results["kernels"]} == {"liger", "compile"}
    assert results["batch"][0]["note"].startswith("CPU rehearsal")
    report = (tmp_path / "rehearsal" / "RESULTS-gpu.md").read_text()
    # and a rehearsal never touches the committed GPU results
    assert "CPU REHEARSAL" in report and (committed.read_bytes() if committed.exists() else None) == before


@pytest.mark.parametrize(
    ("cuda", "installed", "said"),
    [(False, True, "needs a CUDA GPU"), (True, False, "liger-kernel is not installed")],
)
def test_liger_kernels_that_cannot_run_here_are_a_configuration_error(monkeypatch, cuda, installed, said):
    import importlib.util

    from training.architecture import ModelConfigError
    from training.arguments import check_kernels
    from training.config import RunConfig

    # given a run asking for Liger's kernels on a host without a GPU, or without the package
    config = RunConfig(model_path="m", dataset_path="d", label_map="l", tokenizer_path="t", output_dir="o",
                       progress_file="p", trainer={"use_liger_kernel": True})  # fmt: skip
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: real(n, *a) if n != "liger_kernel" or installed
                        else None)  # fmt: skip
    # when checked / then one error says what is missing and what to set (the program exits unretried)
    with pytest.raises(ModelConfigError, match=said):
        check_kernels(config, cuda)
    # and without the setting nothing is asked of the host
    check_kernels(config.model_copy(update={"trainer": config.trainer.model_copy(update={"use_liger_kernel": False})}),
                  cuda)  # fmt: skip


def _cost_figures(compact_llm: float) -> dict:
    tokens = {"full": 147.0, "compact": 65.0}
    return {"templates": {
        name: {"file": f"{name}.yaml", "baseline": {"f1_macro": 0.875}, "llm": {"f1_macro": f1},
               "tokenizers": {"tiny byte-level BPE (256)": {"tokens": {"mean": tokens[name]}}}}
        for name, f1 in (("full", 0.524), ("compact", compact_llm))
    }}  # fmt: skip


@pytest.mark.parametrize(("compact_llm", "chosen"), [(0.520, "compact"), (0.460, "full")])
def test_the_cheaper_template_is_chosen_only_without_a_macro_f1_loss(compact_llm, chosen):
    from bench.cost_report import chosen_template

    # given the full and the compact template's figures / when the default is chosen
    name, why = chosen_template(_cost_figures(compact_llm))
    # then the compact one wins within the tolerance, and a loss beyond it keeps the full one, saying why
    assert name == chosen
    assert ("lost macro-F1" in why) == (chosen == "full")
