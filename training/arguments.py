"""TrainingArguments derived from the run config and the device."""

import os

from training.config import RunConfig


def check_kernels(config: RunConfig, cuda: bool) -> None:
    """use_liger_kernel needs a GPU and the liger-kernel package (the `gpu` extra): say so before any step."""
    from training.architecture import ModelConfigError

    if not config.trainer.use_liger_kernel:
        return
    if not cuda:
        raise ModelConfigError("trainer.use_liger_kernel needs a CUDA GPU (Triton kernels); this host has none")
    import importlib.util

    if importlib.util.find_spec("liger_kernel") is None:
        raise ModelConfigError(
            "trainer.use_liger_kernel is set but liger-kernel is not installed on this host: "
            "pip install -e '.[gpu]' (or liger-kernel), or set trainer.use_liger_kernel: false"
        )


def training_arguments(config: RunConfig, has_eval: bool):
    """User settings plus what the device decides: bf16 on a capable GPU, use_cpu without one."""
    import torch
    from transformers import TrainingArguments

    from training.model import training_dtype

    cuda = torch.cuda.is_available()
    settings = config.trainer.model_dump()
    return TrainingArguments(
        output_dir=str(config.checkpoint_dir),
        eval_strategy="steps" if has_eval else "no",
        save_strategy="steps",
        logging_strategy="steps",
        bf16=cuda and training_dtype() == torch.bfloat16,
        use_cpu=not cuda,
        deepspeed=config.deepspeed_config,
        report_to="none",  # the flow logs our progress-file metrics to its MLflow run; HF's callback would end it
        label_names=["labels"],
        # under the flow, progress comes from the JSON lines (a tqdm bar there): no bar in the piped output
        disable_tqdm=os.environ.get("RANK", "0") != "0" or os.environ.get("ACCOUNT_TAX_QUIET_PROGRESS") == "1",
        **settings,
    )
