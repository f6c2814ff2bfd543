"""N concurrent launches with one idempotency key make one run (issue 8 item 4), on both backends: the key is
claimed with the bucket's create-if-absent before any record exists, and every loser answers the winner's run.

Before the claim, two threads with one key made two runs in 6 of 6 trials (the issue's probe). Each trial here
also checks that the run ends in its terminal state (the model is not in the offline cache, so `failed`), that
nothing is left running and that every record file is valid JSON.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from space_factory.backends.hf.bucket import HfBucket
from space_factory.backends.local.bucket import DirectoryBucket
from space_factory.domain.layout import RUNS_PREFIX
from space_factory.domain.phases import RunStatus
from space_factory.domain.schemas import BuildOptions
from space_factory.service import Factory
from tests.hub_emulator.fixtures import ALICE, hf_factory
from tests.hub_emulator.server import HubEmulator
from tests.reliability.checks import TALLY, assert_settled, record_files_valid
from tests.server.transports import ROOT
from tests.support.runs import wait_terminal
from tests.tools.helpers import make_factory

MISSING = "nobody/not-in-the-cache"
T = TypeVar("T")
TRIALS = 6


def race(calls: list[Callable[[], T]]) -> list[T]:
    """Start every call in its own thread at once (a barrier); return their answers, in order."""
    barrier = threading.Barrier(len(calls))
    out: dict[int, T] = {}
    errors: list[BaseException] = []

    def go(i: int) -> None:
        barrier.wait()
        try:
            out[i] = calls[i]()
        except BaseException as exc:  # collected and raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return [out[i] for i in range(len(calls))]


def _claim_in_process(root: str, keys: list[str], start: multiprocessing.synchronize.Event,
                      results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    bucket = DirectoryBucket(Path(root))
    start.wait()
    me = str(os.getpid()).encode()
    results.put([(key, bucket.create(key, me) is None, me.decode()) for key in keys])


def test_directory_bucket_create_has_exactly_one_winner_per_key_across_processes(tmp_path: Path) -> None:
    keys = [f"idempotency/k{i}.json" for i in range(40)]
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    procs = [context.Process(target=_claim_in_process, args=(str(tmp_path), keys, start, results)) for _ in range(8)]
    for proc in procs:
        proc.start()
    start.set()
    answers = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
    for key in keys:
        winners = [pid for answer in answers for k, won, pid in answer if k == key and won]
        assert len(winners) == 1, (key, winners)
        assert (tmp_path / key).read_text() == winners[0]  # whole from the start: the winner's bytes
    assert not [p for p in tmp_path.rglob(".*") if p.is_file() and not p.name.endswith(".lock")]  # no temp left


def test_directory_bucket_create_answers_the_existing_bytes(tmp_path: Path) -> None:
    bucket = DirectoryBucket(tmp_path)
    assert bucket.create("a/b.json", b"first") is None
    assert bucket.create("a/b.json", b"second") == b"first"
    assert bucket.read("a/b.json") == b"first"


@pytest.mark.parametrize("n", [2, 8])
def test_concurrent_launches_with_one_key_make_one_run_on_the_local_backend(factory: Factory, n: int) -> None:
    runs: set[str] = set()
    for trial in range(TRIALS):
        options = BuildOptions(idempotency_key=f"race-{n}-{trial}")
        got = race([lambda: factory.launch(MISSING, options=options)] * n)  # noqa: B023 - called in this iteration
        assert len({state.run_id for state in got}) == 1, [s.run_id for s in got]
        runs.add(got[0].run_id)
    assert set(factory.backend.bucket.list(RUNS_PREFIX)) == runs and len(runs) == TRIALS
    for run_id in runs:
        state = wait_terminal(factory, run_id, 120)
        assert state.status is RunStatus.FAILED and "model not found" in (state.error or "")
        assert_settled(factory, state)


def test_concurrent_cli_launches_with_one_key_make_one_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SPACE_FACTORY_HOME": str(home), "SPACE_FACTORY_OWNER": "tester"}
    for trial in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "space_factory", "build", MISSING, "--idempotency-key",
                                   f"cli-{trial}", "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(4)]
        outs = [proc.communicate(timeout=120) for proc in procs]
        # Exit 1 is right for a loser that reads the run after it failed (the model is missing): same run.
        assert all(proc.returncode in (0, 1) for proc in procs), [err[-500:] for _, err in outs]
        assert len({json.loads(out)["run_id"] for out, _ in outs}) == 1, outs
    factory = make_factory(home)
    run_ids = factory.backend.bucket.list(RUNS_PREFIX)
    assert len(run_ids) == 3
    for run_id in run_ids:
        assert_settled(factory, wait_terminal(factory, run_id, 120))


# -- the hf backend: the claim protocol over a bucket without conditional writes --------------------------------


def claimant(i: int) -> bytes:
    return json.dumps({"claimant": i}).encode()


def test_hf_bucket_claims_converge_on_one_winner(hub: HubEmulator) -> None:
    factory = hf_factory(ALICE.token)
    assert isinstance(factory.backend.bucket, HfBucket)
    factory.backend.bucket.ensure()
    for trial in range(3):
        buckets = [hf_factory(ALICE.token).backend.bucket for _ in range(4)]
        for bucket in buckets:
            assert isinstance(bucket, HfBucket)
            bucket.claim_settle_seconds = 0.5
        key = f"idempotency/claim-{trial}.json"
        answers = race([partial(bucket.create, key, claimant(i)) for i, bucket in enumerate(buckets)])
        results = dict(enumerate(answers))
        winners = [i for i, got in results.items() if got is None]
        assert len(results) == len(buckets) and len(winners) == 1, results
        assert {got for got in results.values() if got is not None} == {claimant(winners[0])}
        assert factory.backend.bucket.read(key) == claimant(winners[0])
        assert factory.backend.bucket.create(key, claimant(99)) == claimant(winners[0])  # settled: answered at once


def test_hf_concurrent_launches_with_one_key_make_one_run_and_one_job(hub: HubEmulator) -> None:
    factories = [hf_factory(ALICE.token, job_settle_seconds=1) for _ in range(4)]
    for factory in factories:
        factory.backend.bucket.claim_settle_seconds = 1.0  # type: ignore[attr-defined]
    options = BuildOptions(idempotency_key="hf-race")
    got = race([partial(factory.launch, MISSING, options=options) for factory in factories])
    run_ids = {state.run_id for state in got}
    assert len(run_ids) == 1, run_ids
    jobs = [r for r in hub.hub_requests() if r.method == "POST" and r.path == "/api/jobs/alice"]
    assert len(jobs) == 1
    run_id = run_ids.pop()
    state = wait_terminal(factories[0], run_id, 300)
    assert state.status is RunStatus.FAILED and state.run_id in factories[0].backend.bucket.list(RUNS_PREFIX)
    bucket_dir = hub.root / "buckets" / "alice" / "space-factory-runs"
    TALLY.records_checked += record_files_valid(bucket_dir)
    TALLY.faults_survived += 1
