"""One retry layer for an MLflow call: a store that keeps failing sees each set-up request a few times (the
`retrying` delays), not task retries x set-up delays x HTTP retries (27 requests before)."""

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.usefixtures("prefect_harness")


class FailingStore(BaseHTTPRequestHandler):
    """An MLflow server that finds the experiment, then answers 503 to everything else."""

    hits: Counter = Counter()

    def _answer(self):
        path = self.path.split("?")[0]
        FailingStore.hits[path] += 1
        if path.endswith("/experiments/get-by-name"):
            body = json.dumps({"experiment": {"experiment_id": "1", "name": "account-tax"}}).encode()
            self.send_response(200)
        else:
            body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "down"}'
            self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):  # quiet
        pass


def test_a_failing_store_is_asked_once_per_retry_delay_not_27_times(tmp_path, monkeypatch):
    from prefect import flow

    import tasks.tracking as tracking
    from monitor.mlflow_store import TrackingUnavailable
    from tasks.train import PlannedRun

    monkeypatch.setattr(tracking, "SETUP_DELAYS", (0.01, 0.01))  # the same count of attempts, without the waits
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingStore)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    run = PlannedRun(run_name="r", run_dir=str(tmp_path), config_path=str(tmp_path / "run.yaml"), config_sha="x",
                     work_dir=str(tmp_path), resuming=False)  # fmt: skip

    @flow(name="open-against-a-failing-store")
    def open_run():
        return tracking.open_mlflow_run(run, uri, "account-tax", {})

    try:
        # when the run is opened against a store that fails every write
        with pytest.raises(TrackingUnavailable):
            open_run()
    finally:
        server.shutdown()
    # then the first write was sent once per attempt of the one retry layer (3), and nothing after it
    tag_requests = [n for path, n in FailingStore.hits.items() if path.endswith("/experiments/set-experiment-tag")]
    assert tag_requests == [1 + len(tracking.SETUP_DELAYS)]
    assert not any(path.endswith("/runs/create") for path in FailingStore.hits)
