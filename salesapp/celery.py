"""The Celery application: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery, signals

from salesapp.folders import broker_folders_make

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesapp.settings")

app = Celery("salesapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The filesystem broker's folders are made when a process first needs them, not by the
# settings: a worker before it reads the queue, any process before it publishes a task.
@signals.worker_init.connect
def _broker_folders_for_worker(**_) -> None:
    broker_folders_make(app.conf.broker_url, app.conf.broker_transport_options)


@signals.before_task_publish.connect
def _broker_folders_for_publish(**_) -> None:
    broker_folders_make(app.conf.broker_url, app.conf.broker_transport_options)
