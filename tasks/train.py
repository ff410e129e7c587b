"""The training stage seen from the flow: plan the run, launch the training program, follow its progress."""

import collections
import contextlib
import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

from prefect import task
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger
from pydantic import BaseModel

from contracts.dataset import PREPARE_PARAMS_FILE, TokenizedDataset, read_tokenized_dataset
from contracts.run_folder import TEST_METRICS_FILE, RunFolder
from ledger import work_store
from ledger.caching import model_fingerprint, weights_fingerprint
from ledger.conf import conf_path
from ledger.frames import OutputPath
from ledger.work_store import WorkDir, on_store
from monitor.metrics_sink import MetricsSink, read_events
from monitor.mlflow_store import METRICS, MlflowRun, RegisteredModel, store_for
from monitor.terminal import CHILD_OUTPUT
from monitor.training_progress import ProgressFollower
from params.train import TrainParams
from tasks.caching import StageCache
from tasks.evaluate import EvalReport
from tasks.warm_start import warm_start_final
from training.architecture import ModelConfigError
from training.checkpoint_store import CheckpointMirror, fetch_named
from training.checkpoints import list_checkpoints, resolve_resume
from training.config import RunConfig, read_run_config, write_run_config
from training.launcher import free_port, launcher_command, launcher_env, process_group

TAIL_LINES = 30


class PlannedRun(BaseModel):
    run_name: str
    run_dir: str
    config_path: str
    config_sha: str  # run.yaml (with the run folder's uid) and the DeepSpeed config: what the cache key stands on
    work_dir: WorkDir
    resuming: bool


class TrainingOutcome(BaseModel):
    run_dir: str
    final_dir: OutputPath  # a record whose final/ is gone trains again
    global_step: int
    resumed_from: str | None  # the checkpoint the last launch actually resumed from; None: it started from scratch
    already_finished: bool = False  # the run had reached max_steps before: nothing was trained this time
    warm_start: str | None = None  # the finished run's final/ it started from; None: the base model
    new_codes: list[str] = []  # with a warm start: the codes the parent run never knew
    replayed: int = 0  # with a warm start and replay: the parent's train lines trained on again
    metrics: dict[str, float]
    checkpoints: list[str]
    report: EvalReport | None = None  # per-class report of the test split, added by the flow
    probe_report: EvalReport | None = None  # the same for the linear probe the head started from
    registered: RegisteredModel | None = None  # the MLflow model version (models:/NAME/VERSION)


class TrainingFailed(RuntimeError):
    """The launcher exited non-zero; the message carries the last lines it printed."""


def default_run_name(params: TrainParams, dataset_fingerprint: str) -> str:
    sections = (params.lora, params.head, params.loss, params.trainer)
    parent = [params.warm_start] if params.warm_start else []  # a warm start is another run of the same data
    settings = json.dumps([s.model_dump() for s in sections] + parent, sort_keys=True)
    return f"{Path(params.model).name}-{dataset_fingerprint[:8]}-{hashlib.sha256(settings.encode()).hexdigest()[:6]}"


def run_dir_for(params: TrainParams, dataset: TokenizedDataset) -> tuple[str, Path]:
    """The run's name and folder: runs/<run_name>, by default named from model, data and settings."""
    name = params.run_name or default_run_name(params, dataset.folder.name)
    return name, Path(params.work_dir).resolve() / "runs" / name


def planned_run_of(flow_run_id) -> PlannedRun | None:
    """What plan_run returned in that flow run (a state hook's view of it), or None when it never completed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="plan_run")),
        )
    done = [run for run in runs if run.state is not None and run.state.is_completed()]
    return PlannedRun.model_validate(done[-1].state.result()) if done else None


def run_uid(folder: RunFolder) -> str:
    """The run folder's identity: kept while its run.yaml exists, new once the folder is deleted.

    It is part of run.yaml and so of the training cache key: a deleted run folder trains again instead of
    coming back as Cached with paths to files that are gone.
    """
    if folder.run_yaml.exists():
        with contextlib.suppress(Exception):  # an unreadable run.yaml starts a new identity
            if uid := read_run_config(folder.run_yaml).run_uid:
                return uid
    return uuid.uuid4().hex[:12]


def config_digest(run_yaml: Path, deepspeed_config: str | None, models: tuple[str | None, ...] = ()) -> str:
    """sha256 of run.yaml, of the DeepSpeed JSON it names and of the model folders it trains from (base model, warm
    start): their contents, not only their paths, so weights replaced at the same path train again."""
    digest = hashlib.sha256(run_yaml.read_bytes())
    if deepspeed_config:
        digest.update(Path(deepspeed_config).read_bytes())
    for folder in filter(None, models):
        digest.update(model_fingerprint(folder).encode() + weights_fingerprint(folder).encode())
    return digest.hexdigest()


def store_url(checkpoint_store: str | None, run_name: str) -> str | None:
    """This run's checkpoint folder in the shared store: <url>/<run_name>/checkpoints."""
    return f"{checkpoint_store.rstrip('/')}/{run_name}/checkpoints" if checkpoint_store else None


@task(persist_result=True)  # the failure hook reads it back (planned_run_of)
@on_store
def plan_run(params: TrainParams) -> PlannedRun:
    """Name the run, check the resume request against its folder, and write run.yaml for the program."""
    dataset = read_tokenized_dataset(params.dataset)
    name, run_dir = run_dir_for(params, dataset)
    folder = RunFolder(root=str(run_dir))
    # a work dir in a shared store keeps the checkpoints there too, so that any host can resume the run
    store = store_url(params.checkpoint_store or work_store.remote_url(run_dir.parent), name)
    if params.resume_from not in (None, "none", "latest"):
        fetch_named(store, params.resume_from, folder.checkpoints)  # 'checkpoint-N' on a host that lacks it
        resolve_resume(params.resume_from, folder.checkpoints)  # a bad path fails here, before any launch
    existing = list_checkpoints(folder.checkpoints)
    if existing and not params.resume_from:
        raise FileExistsError(
            f"{run_dir} already has checkpoints ({', '.join(p.name for p in existing[:5])}); pass resume_from='latest' "
            "to continue it, or another run_name to start a new run"
        )
    config = RunConfig(
        model_path=str(Path(params.model).resolve()),
        dataset_path=dataset.path,
        label_map=dataset.label_map,
        tokenizer_path=dataset.tokenizer,
        pad_added=dataset.pad_added,
        run_uid=run_uid(folder),
        output_dir=str(run_dir),
        progress_file=str(folder.progress),
        deepspeed_config=str(conf_path(params.deepspeed_config))
        if params.deepspeed_config and params.launcher != "python"
        else None,
        warm_start=str(warm_start_final(params.warm_start, params.mlflow.tracking_uri, params.work_dir))
        if params.warm_start
        else None,
        checkpoint_store=store,
        **params.program_settings(),  # passed through as the user set them
    )
    path = write_run_config(config, folder.run_yaml)
    saved = dataset.folder / PREPARE_PARAMS_FILE
    if saved.exists():  # prediction replays these data steps on new ledgers
        shutil.copy(saved, folder.prepare_params)
    return PlannedRun(
        run_name=name,
        run_dir=str(run_dir),
        config_path=str(path),
        config_sha=config_digest(path, config.deepspeed_config, (config.model_path, config.warm_start)),
        work_dir=params.work_dir,
        resuming=bool(params.resume_from),
    )


def retriable(task, task_run, state) -> bool:
    """Retry what a relaunch can mend (a killed rank, a lost host), never a model or setting that cannot work."""
    return not isinstance(state.result(raise_on_failure=False), ModelConfigError)


@task(
    cache_policy=StageCache(programs=("training.__main__",), exclude=("mlflow_run",)),
    persist_result=True,
    retry_condition_fn=retriable,
)
@on_store
def run_training(
    run: PlannedRun, launcher: str, num_gpus: int, hostfile: str | None, mlflow_run: MlflowRun | None = None
) -> TrainingOutcome:
    """Launch the training program in its own process group and follow it until it exits."""
    logger = get_run_logger()
    config = read_run_config(run.config_path)
    if TaskRunContext.get().task_run.run_count > 1 and not config.resume_from:
        config.resume_from = "latest"  # a retry continues from the newest complete checkpoint
        write_run_config(config, run.config_path)
    if (done := finished_outcome(config)) is not None:
        logger.info("run already finished at step %s (%s): nothing to train", done.global_step, done.final_dir)
        return done
    port = free_port()
    cmd = launcher_command(launcher, num_gpus, hostfile, run.config_path, port)
    env = launcher_env(launcher, port, {"ACCOUNT_TAX_QUIET_PROGRESS": "1"})
    # the program never talks to MLflow (a dead server must not kill a rank): none of our MLflow settings reach it
    env = {k: v for k, v in env.items() if not k.startswith("MLFLOW_")}
    train_log = RunFolder(root=run.run_dir).train_log
    logger.info("launching: %s (its output: %s)", " ".join(cmd), train_log)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    sink = None
    if mlflow_run is not None:
        store = store_for(mlflow_run.tracking_uri, METRICS)
        sink = MetricsSink(store, mlflow_run.run_id, mlflow_run.run_dir, config.progress_file, logger)
    mirror = CheckpointMirror(config, logger) if config.checkpoint_store else None
    if mirror is not None and config.resume_from == "latest":
        mirror.pull_latest()  # a fresh host (or a newer checkpoint another host pushed) continues from the store
    follower = ProgressFollower(config.progress_file, logger, sink, mirror)

    def on_line(line: str) -> None:
        """Every line to the run's train.log; to the run log at DEBUG only (launcher chatter, the Trainer's own metric
        dicts: the follower's one line per step says what a user reads), never on a CLI terminal."""
        tail.append(line)
        with train_log.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        logger.debug(line, extra={CHILD_OUTPUT: True})

    with process_group(cmd, env, on_line, port) as proc:
        while proc.poll() is None:
            follower.poll()
            _sleep(2.0, proc)
        follower.poll()
    follower.close()
    if proc.returncode != 0 and follower.fatal:
        raise ModelConfigError(follower.fatal)
    if proc.returncode != 0:
        raise TrainingFailed(
            f"{cmd[0]} exited with {proc.returncode} (whole output: {train_log}); last output:\n" + "\n".join(tail)
        )
    return outcome_of(config, follower.last, follower.step)


def _sleep(seconds: float, proc: subprocess.Popen) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):  # still running: poll the progress again
        proc.wait(timeout=seconds)


def finished_outcome(config: RunConfig) -> TrainingOutcome | None:
    """The outcome of a run that already reached max_steps and wrote its final folder, when resuming it.

    (The Trainer resumed from its last checkpoint would take one extra step past max_steps.)
    """
    if not config.resume_from or config.trainer.max_steps <= 0:
        return None
    checkpoint = resolve_resume(config.resume_from, config.checkpoint_dir)
    if checkpoint is None or not (config.final_dir / TEST_METRICS_FILE).exists():
        return None
    step = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"]
    return outcome_of(config, {}, step, already_finished=True) if step >= config.trainer.max_steps else None


def resumed_checkpoint(progress_file: str | Path) -> str | None:
    """The checkpoint the last launch resumed from, from its `resume` event; None when it started from scratch."""
    events, _ = read_events(Path(progress_file), 0)
    resumes = [event for event, _ in events if event.get("event") == "resume"]
    return resumes[-1].get("checkpoint") if resumes else None


def warm_event(progress_file: str | Path) -> dict:
    """What the program reported when it loaded its parent run (its `warm_start` event: new codes, lines replayed)."""
    events, _ = read_events(Path(progress_file), 0)
    warm = [event for event, _ in events if event.get("event") == "warm_start"]
    return warm[-1] if warm else {}


def outcome_of(config: RunConfig, last_metrics: dict, step: int, already_finished: bool = False) -> TrainingOutcome:
    test_file = config.final_dir / TEST_METRICS_FILE
    test = json.loads(test_file.read_text()) if test_file.exists() else {}
    checkpoints = list_checkpoints(config.checkpoint_dir)
    metrics = {k: float(v) for k, v in {**last_metrics, **test}.items() if isinstance(v, int | float)}
    warm = warm_event(config.progress_file)
    return TrainingOutcome(
        run_dir=config.output_dir,
        final_dir=str(config.final_dir),
        global_step=step,
        resumed_from=resumed_checkpoint(config.progress_file),
        already_finished=already_finished,
        warm_start=config.warm_start,
        new_codes=list(warm.get("new_codes", [])),
        replayed=int(warm.get("replayed", 0)),
        metrics=metrics,
        checkpoints=[p.name for p in checkpoints],
    )
