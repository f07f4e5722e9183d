"""What the app database knows of the warehouse: the batches staged for BigQuery and not
yet known to be applied (apps/warehouse/commits.py explains the group commit), and the
version of its contents.

Report results are cached under the version (apps/reports/results.py), so a cached figure
is never served once the rows under it changed. It lives in the app database, not in a
process's memory, because the web processes read it and the workers change it.
"""

from django.db import models


class PendingApply(models.Model):
    """One upload's staged batch: recorded by the worker that staged it, applied (with the
    others waiting) by whichever worker holds the writer lock. It survives its worker: the
    next writer applies it; its staging table expires after a day whatever happens."""

    class State(models.TextChoices):
        PENDING = "pending"
        APPLIED = "applied"
        FAILED = "failed"
        SUPERSEDED = "superseded"  # a later run of the upload staged its batch again

    id = models.CharField(primary_key=True, max_length=32)
    upload_id = models.CharField(max_length=36, db_index=True)
    staging = models.CharField(max_length=1024, help_text="project.dataset.table of the staged rows")
    first_order_date = models.DateField(null=True, blank=True)
    last_order_date = models.DateField(null=True, blank=True)
    # Where the rows the apply removes lie (its own earlier load, retired uploads' rows).
    removes_first = models.DateField(null=True, blank=True)
    removes_last = models.DateField(null=True, blank=True)
    retired = models.JSONField(default=list)
    displaced = models.JSONField(default=list)
    stores = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created = models.FloatField(help_text="when it was staged (seconds since the epoch): the order of applies")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created"]
        indexes = [models.Index(fields=["state", "created"])]

    def __str__(self) -> str:
        return f"{self.upload_id} {self.state}"


class WarehouseVersion(models.Model):
    """One row: a token that changes after every write to the fact table (a load, a delete,
    a replace). A random token rather than a counter: a database made again from scratch (a
    test's, a restored backup) never meets results cached under an earlier one's numbers."""

    token = models.CharField(max_length=32, default="", help_text="Changes after each write to the fact table.")
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.token
