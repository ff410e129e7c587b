"""Starting the training program under a launcher, in its own process group, and stopping all of it."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ledger.errors import ParameterError

GRACE_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launcher_command(launcher: str, num_gpus: int, hostfile: str | None, config_path: str, port: int) -> list[str]:
    """deepspeed / torchrun / python command line for `-m training --config run.yaml`."""
    program = ["--config", config_path]
    if launcher == "deepspeed":
        bin_script = Path(sys.executable).parent / "deepspeed"
        runner = [str(bin_script)] if bin_script.exists() else [sys.executable, "-m", "deepspeed.launcher.runner"]
        placement = ["--hostfile", hostfile] if hostfile else ["--num_gpus", str(num_gpus)]
        return [*runner, *placement, "--master_port", str(port), "--module", "training", *program]
    if launcher == "torchrun":
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(num_gpus),
            "--master_port",
            str(port),
            "-m",
            "training",
            *program,
        ]
    if launcher == "python":
        return [sys.executable, "-m", "training", *program]
    raise ParameterError(f"launcher must be deepspeed, torchrun or python, got {launcher!r}")


def launcher_env(launcher: str, port: int, extra: dict[str, str]) -> dict[str, str]:
    """The child's environment: ours, MLflow ids, a watchdog on our PID, one-process rank variables."""
    env = {**os.environ, **extra, "ACCOUNT_TAX_PARENT_PID": str(os.getpid()), "PYTHONUNBUFFERED": "1"}
    env.setdefault("TORCH_EXTENSIONS_DIR", str(Path(".cache/torch_extensions").resolve()))
    if launcher == "python":  # DeepSpeed in a plain process needs the rank variables a launcher would set
        env.update(
            {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        )
    return env


def kill_group(proc: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the whole process group (launcher and every rank), SIGKILL what is left after `grace`."""
    if proc.poll() is not None and not _group_alive(proc.pid):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(proc.pid):
            time.sleep(0.2)
            proc.poll()
        if not _group_alive(proc.pid):
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@contextmanager
def process_group(cmd: list[str], env: dict[str, str], on_line, port: int | None = None):
    """Run cmd in a new session; stream its output lines to on_line; kill its group on any exit path, then remove
    the shared-memory buffers DeepSpeed's CPU backend left for this run's master `port` (remove_shm_buffers).

    A SIGTERM to this process (a worker cancelling the flow) kills the group before we die, and the
    training program's watchdog kills the group if this process disappears without a chance to (SIGKILL).
    """
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        text=True,
        bufsize=1,
        errors="replace",
    )
    reader = threading.Thread(target=lambda: [on_line(line.rstrip("\n")) for line in proc.stdout], daemon=True)
    reader.start()
    previous = None
    # Only where nothing handles SIGTERM yet: Prefect's own handler raises an exception (the `finally` below kills
    # the group then), and a worker's cancellation is acknowledged (-> Cancelled, not Crashed) only while that
    # handler is the installed one.
    if threading.current_thread() is threading.main_thread() and not callable(signal.getsignal(signal.SIGTERM)):

        def on_term(signum, frame):
            kill_group(proc)
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield proc
    finally:
        kill_group(proc)
        if port is not None:
            remove_shm_buffers(port)
        reader.join(timeout=5)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def processes_naming(text: str) -> list[int]:
    """PIDs of every process whose command line contains `text` (a run.yaml path: the launcher and its ranks)."""
    import psutil  # a dependency of deepspeed's, so always installed beside it

    return [
        proc.info["pid"]
        for proc in psutil.process_iter(["pid", "cmdline"])
        if text in " ".join(proc.info["cmdline"] or ())  # None where access is denied or the process is gone
    ]


SHM_DIR = Path("/dev/shm")


def remove_shm_buffers(port: int, shm_dir: Path = SHM_DIR) -> list[str]:
    """Delete DeepSpeed's CPU all-reduce buffers of the run whose master port this was.

    DeepSpeed's shm comm op (CPU accelerator) creates /dev/shm/deepspeed_allreduce_buffer_<uid>_<addr>_<port>_<rank>
    (69 MB each) and never unlinks it, on a normal exit too: every CPU launch kept 69 MB of RAM until reboot (seen:
    19 GB of a 24 GB machine after a day of tests). Called once the run's process group is gone; another run's
    buffers (another port) are left alone, since a rank still starting may be about to open them.
    """
    removed = []
    for path in shm_dir.glob(f"deepspeed_allreduce_buffer_{os.getuid()}_*_{port}_*"):
        if path.name.rsplit("_", 2)[-2] == str(port):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed
