"""Issue 19, point 1: many workers loading many uploads at once, against a BigQuery double
that aborts and queues writers as Google's servers do (tests/emulators/bigquery_double.py),
in front of local-bigquery (which alone serialises writers and would hide it all)."""

import datetime as dt
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.api_core import exceptions as gexc

from apps.warehouse.base import DateSpan, ParquetBatch, WarehouseError
from apps.warehouse.bigquery_dialect import is_transient
from apps.warehouse.commits import APPLIED, FAILED
from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW, ViewSpec
from tests.emulators.bigquery_double import BigQueryDouble
from tests.warehouse.bigquery_writers import Job, Target, batch, replace_all, stage_then_die, warehouse_of

pytestmark = pytest.mark.integration
DAY = dt.date(2024, 1, 1)


@pytest.fixture
def double(bigquery_emulator):
    found = BigQueryDouble(bigquery_emulator.endpoint, seed=19)
    found.endpoint = found.start()
    yield found
    found.stop()


@pytest.fixture
def target(double, bigquery_emulator, tmp_path) -> Target:
    made = Target(double.endpoint, bigquery_emulator.project, f"sales_{uuid.uuid4().hex[:10]}", str(tmp_path / "c"))
    warehouse_of(made).ensure_schema(views=[ViewSpec(MASTER_VIEW)])
    return made


def rows_per_upload(target: Target) -> dict[str, int]:
    return warehouse_of(target).batch_rows()


def old_transaction_replace(wh, upload_id: str, staging: str) -> None:
    """The replace as it was before issue 19: one multi-statement transaction per upload."""
    fact = wh._ref(FACT_TABLE)
    wh.client().query_and_wait(
        f"""BEGIN TRANSACTION;
DELETE FROM {fact} WHERE upload_id = '{upload_id}' AND order_date >= '1900-01-01';
INSERT INTO {fact} SELECT * FROM `{staging}`;
COMMIT TRANSACTION;"""
    )


def test_the_double_aborts_a_transaction_that_overlaps_another_as_bigquery_does(target, double):
    wh = warehouse_of(target)
    staged = []
    for _ in range(4):
        u = str(uuid.uuid4())
        pending, _rows = wh.stage(upload_id=u, table=batch(Job(u, 50)), removes=())
        staged.append((u, pending.staging))
    errors: list[Exception] = []
    start = threading.Barrier(len(staged))

    def writer(u: str, staging: str) -> None:
        start.wait()
        for _ in range(3):
            try:
                old_transaction_replace(warehouse_of(target), u, staging)
            except gexc.GoogleAPICallError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=s) for s in staged]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert errors, "overlapping transactions on one table must abort"
    assert all("Transaction is aborted due to concurrent update against table" in e.message for e in errors)
    assert all(isinstance(e, gexc.BadRequest) and is_transient(e) for e in errors)
    assert double.snapshot()["stats"]["aborted"] == len(errors)


def test_the_double_queues_mutating_dml_and_refuses_past_the_queue(bigquery_emulator, tmp_path):
    double = BigQueryDouble(bigquery_emulator.endpoint, running=1, pending=1)
    endpoint = double.start()
    try:
        made = Target(endpoint, bigquery_emulator.project, f"sales_{uuid.uuid4().hex[:10]}", str(tmp_path / "c"))
        warehouse_of(made).ensure_schema(views=[ViewSpec(MASTER_VIEW)])
        errors: list[Exception] = []
        start = threading.Barrier(6)

        def delete() -> None:
            start.wait()
            try:
                warehouse_of(made).client().query_and_wait(
                    f"DELETE FROM {warehouse_of(made)._ref(FACT_TABLE)} WHERE order_date = '2024-01-01'"
                )
            except gexc.GoogleAPICallError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=delete) for _ in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    finally:
        double.stop()
    assert errors and all("Too many DML statements outstanding against table" in e.message for e in errors)
    assert all(e.errors[0]["reason"] == "resourcesExceeded" and is_transient(e) for e in errors)
    assert double.snapshot()["max_running"] == {f"{made.project}.{made.dataset}.{FACT_TABLE}": 1}


def test_many_processes_replacing_at_once_load_every_upload_once_without_aborts(target, double):
    uploads = [str(uuid.uuid4()) for _ in range(16)]
    # Each process loads its uploads; some are loaded again (a rerun), one replaces another.
    jobs = [Job(u, 20 + 7 * i, day=1 + i % 5, store=f"S{i % 3}") for i, u in enumerate(uploads)]
    plans = [jobs[p::4] for p in range(4)]
    plans[0].append(Job(uploads[0], 11, day=9, removes=(DateSpan(DAY, DAY),)))
    plans[1].append(Job(str(uuid.uuid4()), 5, retire=(uploads[2],), removes=(DateSpan(DAY, dt.date(2024, 1, 5)),)))
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        done = [r for results in pool.map(replace_all, [target] * 4, plans) for r in results]

    assert [r for r in done if r[2]] == []
    expected = {r[0]: r[1] for r in done}  # the last load of each upload
    expected.pop(uploads[2])  # retired
    assert rows_per_upload(target) == expected
    seen = double.snapshot()
    assert seen["stats"].get("aborted", 0) == 0 and seen["stats"].get("transaction", 0) == 0
    assert max(seen["max_running"].values()) == 1  # this app never runs two at once
    assert seen["stats"]["fact_statements"] <= len(done)


@pytest.mark.parametrize(
    "fault", ["aborted", "tooManyDml", "queuedTooLong", "rateLimitExceeded", "quotaExceeded", "backendError"]
)
def test_each_transient_fault_is_retried_from_the_staged_rows(target, double, fault):
    double.inject(next=[fault, fault])
    u = str(uuid.uuid4())
    assert replace_all(target, [Job(u, 30)]) == [(u, 30, "", pytest.approx(0, abs=120))]
    assert rows_per_upload(target) == {u: 30}
    assert double.snapshot()["stats"][f"fault:{fault}"] == 2


def test_a_quota_that_does_not_pass_fails_the_upload_with_its_reason(target, double):
    double.inject(next=["dailyQuotaExceeded"])
    u = str(uuid.uuid4())
    [(_, rows, error, _)] = replace_all(target, [Job(u, 5)])
    assert rows == 0 and "WarehouseError" in error and "free query bytes scanned" in error
    assert rows_per_upload(target) == {}


def test_a_group_with_one_bad_upload_loads_the_others_and_fails_that_one_alone(target, double, tmp_path):
    wh = warehouse_of(target)
    good = [str(uuid.uuid4()) for _ in range(3)]
    bad = str(uuid.uuid4())
    pendings = [wh.stage(upload_id=u, table=batch(Job(u, 10 + i)), removes=())[0] for i, u in enumerate(good)]
    # A file whose quantity is text: staged as it is, its cast to INT64 fails inside the MERGE.
    rows = batch(Job(bad, 4))
    rows = rows.set_column(rows.schema.get_field_index("quantity"), "quantity", pa.array(["two"] * 4))
    pq.write_table(rows, tmp_path / "bad.parquet")
    broken = wh.stage(upload_id=bad, table=ParquetBatch(tmp_path / "bad.parquet"), removes=())[0]

    wh.apply_pending(pendings[0])  # one writer applies the whole group: it fails, then each alone

    assert rows_per_upload(target) == {u: 10 + i for i, u in enumerate(good)}
    assert [wh.commits.get(p.id).state for p in pendings] == [APPLIED] * 3
    failed = wh.commits.get(broken.id)
    assert failed.state == FAILED and failed.error.startswith("BigQuery apply of 1 upload(s) failed: ")
    with pytest.raises(WarehouseError, match="apply of 1 upload"):
        wh.apply_pending(broken)
    assert double.snapshot()["stats"]["fact_statements"] == 1 + 4  # the group, then each alone


def test_a_batch_whose_writer_died_is_applied_once_by_the_next_writer(target, double):
    dead, alive = str(uuid.uuid4()), str(uuid.uuid4())
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool, pytest.raises(BrokenProcessPool):
        pool.submit(stage_then_die, target, Job(dead, 12)).result()  # the process died
    wh = warehouse_of(target)
    assert [p.upload_id for p in wh.commits.waiting()] == [dead]

    assert replace_all(target, [Job(alive, 3)])[0][:3] == (alive, 3, "")

    assert rows_per_upload(target) == {dead: 12, alive: 3}
    assert double.snapshot()["stats"]["fact_statements"] == 1  # both in one MERGE


def test_a_writer_that_died_after_its_merge_is_applied_again_without_doubling(target):
    wh = warehouse_of(target)
    u = str(uuid.uuid4())
    pending, _ = wh.stage(upload_id=u, table=batch(Job(u, 8)), removes=())
    wh._merge([pending])  # the MERGE committed; the writer died before marking it applied
    assert rows_per_upload(target) == {u: 8}

    wh.apply_pending(pending)  # the next writer finds it pending and applies it again

    assert rows_per_upload(target) == {u: 8}
    assert wh.commits.get(pending.id).state == APPLIED


def test_the_load_bench_in_small_loses_and_doubles_nothing_with_faults_injected(bigquery_emulator, double):
    """bench/bigquery_load_test.py at CI size: 8 processes, 32 uploads (reruns, corrections),
    with transient faults injected into the mutating statements."""
    from bench.bigquery_load_test import run

    double.inject(rates={"aborted": 0.05, "tooManyDml": 0.05, "rateLimitExceeded": 0.03, "backendError": 0.03})
    found = run(double.endpoint, bigquery_emulator.project, workers=8, uploads=32, double=double)

    assert (found["failed"], found["lost"], found["double_counted"]) == (0, 0, 0), found
    assert found["statements_per_upload"] < 1


def test_the_app_database_keeps_each_apply_with_its_days(bigquery):
    from apps.warehouse.models import PendingApply
    from apps.warehouse.services import warehouse

    wh = warehouse()
    wh.ensure_schema(views=[ViewSpec(MASTER_VIEW)])
    u = str(uuid.uuid4())
    assert wh.replace_batch(upload_id=u, table=batch(Job(u, 3, day=4)), removes=()) == 3

    row = PendingApply.objects.get(upload_id=u)
    assert (row.state, row.attempts) == ("applied", 1)
    assert (row.first_order_date, row.last_order_date) == (dt.date(2024, 1, 4), dt.date(2024, 1, 4))
    # A delete bounded by a span that misses the rows still finds them: the applies' days count.
    assert wh.delete_batch(upload_id=u, span=DateSpan(DAY, DAY)) == 3


@pytest.mark.django_db
def test_finished_applies_are_forgotten_after_a_week_and_pending_ones_never():
    import time

    from apps.warehouse.commits import APPLIED, FAILED, KEEP_FINISHED_SECONDS, PENDING, Pending
    from apps.warehouse.models import PendingApply
    from apps.warehouse.pending import DatabaseCommits

    commits, old = DatabaseCommits(), time.time() - KEEP_FINISHED_SECONDS - 60
    for state, created in [(APPLIED, old), (FAILED, old), (PENDING, old), (APPLIED, time.time())]:
        commits.record(Pending(upload_id=str(uuid.uuid4()), staging="p.d.t", span=None, removes=None,
                               state=state, created=created))  # fmt: skip

    assert commits.prune(older_than=time.time() - KEEP_FINISHED_SECONDS) == 2
    assert sorted(PendingApply.objects.values_list("state", flat=True)) == [APPLIED, PENDING]
