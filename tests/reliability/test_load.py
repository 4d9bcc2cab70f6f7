"""Eight concurrent clients, with and without injected faults: the totals stay exact."""

from __future__ import annotations

import json

import pytest

from tests.emulator.helpers import stderr_of
from tests.reliability.workload import drained_status, listing_totals, run_load


def check_exact_after_load(cli, *deploy_options: str) -> dict:
    cli("setup")
    cli("deploy", *deploy_options)

    tally = run_load(cli, clients=8, operations=100)
    status = drained_status(cli)
    reconcile = json.loads(cli("reconcile", "--json").stdout)

    assert sum(tally.operations.values()) == 800
    assert (status["total_size"], status["object_count"]) == listing_totals(cli)
    assert (reconcile["drift_bytes"], reconcile["drift_objects"]) == (0, 0)
    cli("teardown", "--yes")
    return status


def test_concurrent_load_keeps_the_totals_exact(stack_cli):
    check_exact_after_load(stack_cli)


@pytest.mark.heavy  # 16 s: the default run stays near 10 minutes; CI runs the heavy tier
def test_duplicated_reordered_and_crashed_deliveries_keep_the_totals_exact(faulty_stack_cli):
    # Small batches: many invocations, so that crashes (struck after a write) really happen.
    check_exact_after_load(faulty_stack_cli, "--batch-size", "10")

    log = stderr_of(faulty_stack_cli.aws.process)
    injected = {
        fault: log.count(f"injected fault: {words}")
        for fault, words in (
            ("duplicate", "duplicate delivery"),
            ("reorder", "reordered delivery"),
            ("crash", "worker crashed"),
        )
    }
    print(f"faults injected during 800 operations: {injected}")
    assert all(injected.values()), injected  # the faults really happened
