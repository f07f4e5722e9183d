"""Celery beat's schedule, kept in a file whose folder is made when beat opens it (the settings
create nothing, salesapp/folders.py). A module of its own: only beat loads it."""

from pathlib import Path

from celery.beat import PersistentScheduler


class BeatSchedule(PersistentScheduler):
    """The schedule file (CELERY_BEAT_SCHEDULE_FILENAME, or `beat -s`), in `celery beat` or in
    a worker started with --beat (`manage.py serve`)."""

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()
