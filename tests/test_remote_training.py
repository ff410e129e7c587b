"""Training on another pool: only a crashed training run is started again, and a cancelled pipeline cancels the
training runs it started (the whole path with a real server, pools and a killed host: test_e2e_deployments)."""

import pytest

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_only_a_crashed_training_run_is_retried():
    from prefect.states import Failed

    from tasks.remote_training import TrainingRunCrashed, TrainingRunFailed, crashed

    # given the states the pool task ends in when its training run crashed, or failed on its own
    host_died = Failed(data=TrainingRunCrashed("training run x crashed"))
    own_failure = Failed(data=TrainingRunFailed("training run x ended Failed"))
    # then only the crash is retried (a failure already spent the training run's own retries)
    assert crashed(None, None, host_died) is True
    assert crashed(None, None, own_failure) is False


def test_a_cancelled_pipeline_cancels_the_training_runs_it_started():
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Running

    from tasks.remote_training import PARENT_TAG, cancel_training_runs

    @flow(name="pipeline-stand-in")
    def pipeline_stand_in() -> None: ...

    @flow(name="training-stand-in")
    def training_stand_in() -> None: ...

    with get_client(sync_client=True) as client:
        # given a pipeline run, two training runs it started (one still running) and another pipeline's
        pipeline = client.create_flow_run(pipeline_stand_in, state=Running())
        mine = [f"{PARENT_TAG}{pipeline.id}"]
        running = client.create_flow_run(training_stand_in, tags=mine, state=Running())
        finished = client.create_flow_run(training_stand_in, tags=mine, state=Completed())
        others = client.create_flow_run(training_stand_in, tags=[f"{PARENT_TAG}another"], state=Running())
        # when the pipeline's cancellation hook runs
        cancel_training_runs(pipeline_stand_in, pipeline, None)
        # then its running training run is being cancelled; the finished one and the other pipeline's are untouched
        assert client.read_flow_run(running.id).state.type.value in ("CANCELLING", "CANCELLED")
        assert client.read_flow_run(finished.id).state.type.value == "COMPLETED"
        assert client.read_flow_run(others.id).state.type.value == "RUNNING"


def test_a_training_run_that_did_not_finish_is_an_expected_error_with_a_hint():
    from flows.errors import hint_for
    from tasks.remote_training import TrainingRunCrashed, TrainingRunFailed

    # given the two ways a training run on the GPU pool ends without a model
    for err in (TrainingRunFailed("training run x ended Failed"), TrainingRunCrashed("training run x crashed")):
        # then the terminal says what to do, not a traceback
        assert "resume_from=latest" in hint_for(err) and "Prefect UI" in hint_for(err)


def test_a_pipeline_asked_to_refresh_tells_the_training_run_on_the_pool(monkeypatch, tmp_path):
    from prefect import flow

    import tasks.remote_training as remote
    from params.pipeline import PipelineParams

    sent = {}

    def run_deployment(name, parameters, **_):
        sent.update(parameters["params"])
        raise RuntimeError("stop here: only what is sent matters")

    monkeypatch.setattr(remote, "run_deployment", run_deployment)
    # given a pipeline rerun with refresh_cache (the UI's "ignore cached results")
    params = PipelineParams(prepare={"input": "in.csv", "work_dir": str(tmp_path), "model": "m"}, refresh_cache=True)
    training = params.training(str(tmp_path / "datasets" / "d"))

    @flow(name="pipeline-stand-in")
    def send() -> None:
        remote.train_on_pool(training, "train_model/train-model")

    # when its training is started on the GPU pool
    with pytest.raises(RuntimeError, match="stop here"):
        send()
    # then the deployed train_model (its own flow run, outside the pipeline's settings) refreshes too
    assert training.refresh_cache is True and sent["refresh_cache"] is True
