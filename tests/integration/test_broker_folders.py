"""The embedded filesystem broker's folders are made by the process that first needs them
(the settings create nothing): a worker when it starts, before it reads the queue, and any
process when it publishes a task."""

from pathlib import Path

import pytest

from salesapp.celery import app as celery_app

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("broker", ["filesystem"], indirect=True)]


def _folders(transport_options: dict) -> list[Path]:
    return [Path(value) for key, value in transport_options.items() if "folder" in key]


def test_publishing_a_task_makes_the_broker_folders(publisher, data_dir):
    assert not (data_dir / "broker").exists()

    celery_app.send_task("apps.warehouse.tasks.compact_warehouse")

    assert all(folder.is_dir() for folder in _folders(publisher.transport_options))
    assert [p.name.rsplit(".", 2)[-2:] for p in (data_dir / "broker" / "queue").iterdir()] == [["celery", "msg"]]


def test_a_worker_on_a_fresh_data_dir_makes_its_broker_folders_before_it_reads(celery_worker, publisher, data_dir):
    # Nothing was published yet: the worker made them as it started.
    assert all(folder.is_dir() for folder in _folders(publisher.transport_options))
    assert str(data_dir / "broker" / "queue") in publisher.transport_options.values()
    assert "FileNotFoundError" not in celery_worker.log()
    assert "Traceback" not in celery_worker.log()
