"""What the app database knows of the warehouse: the version of its contents.

Report results are cached under the version (apps/reports/results.py), so a cached figure
is never served once the rows under it changed. It lives in the app database, not in a
process's memory, because the web processes read it and the workers change it.
"""

from django.db import models


class WarehouseVersion(models.Model):
    """One row: a token that changes after every write to the fact table (a load, a delete,
    a replace). A random token rather than a counter: a database made again from scratch (a
    test's, a restored backup) never meets results cached under an earlier one's numbers."""

    token = models.CharField(max_length=32, default="", help_text="Changes after each write to the fact table.")
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.token
