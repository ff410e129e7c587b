"""`make deploy STORE=s3://bucket/account-tax`: what the pools need to share a store, registered on the server.

- a `remote-file-system` block over <store>/prefect-results: the result storage and cache records of every task,
  so a task Cached on one host is Cached on any (workers point at it with PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK);
- an automation that marks a flow run Crashed when its heartbeats stop (its host died): the pipeline that started
  it then starts it again, and it resumes from the newest checkpoint in the store (workers set
  PREFECT_FLOWS_HEARTBEAT_FREQUENCY).

    python -m deployments.shared_store s3://bucket/account-tax [--silence 90]
"""

import argparse
import contextlib
import sys
from datetime import timedelta

RESULTS_BLOCK = "account-tax-results"
ZOMBIE_AUTOMATION = "account-tax: crash runs whose host died"


def save_result_storage(store: str) -> str:
    """The result-storage block over <store>/prefect-results; its slug for PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK."""
    from prefect.filesystems import RemoteFileSystem

    from ledger.work_store import join

    RemoteFileSystem(basepath=join(store, "prefect-results")).save(RESULTS_BLOCK, overwrite=True)
    return f"remote-file-system/{RESULTS_BLOCK}"


def save_zombie_automation(silence: timedelta) -> str:
    """A flow run silent for `silence` (no heartbeat, no final state) is marked Crashed; the automation's id."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    with contextlib.suppress(ValueError):  # none by that name yet
        Automation.read(name=ZOMBIE_AUTOMATION).delete()  # one automation, however often `make deploy` runs
    automation = Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=silence,
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message="no heartbeat: the run's host went away")],
    ).create()
    return str(automation.id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", help="the shared store: s3://bucket/prefix, gs://..., az://..., or an NFS path")
    parser.add_argument("--silence", type=int, default=90, help="seconds without a heartbeat before a run crashed")
    args = parser.parse_args(argv)
    slug = save_result_storage(args.store)
    save_zombie_automation(timedelta(seconds=args.silence))
    print(f"result storage  {slug} (over {args.store}/prefect-results)")
    print(f"automation      '{ZOMBIE_AUTOMATION}': a run silent for {args.silence} s is marked Crashed")
    print("on every worker host (cpu and gpu):")
    print(f"  export PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK={slug} PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30")
    return 0


if __name__ == "__main__":
    sys.exit(main())
