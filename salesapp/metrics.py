"""Prometheus metrics, read at scrape time from the database and the broker.

The ETL runs in worker processes (on other machines, with compose or Kubernetes), so
in-process counters in the web process would miss it; the Upload rows and the broker's
queues are what every process shares. Durations are per upload, from claim to end.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from apps.uploads.models import Upload

DURATION_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
RATE_WINDOW = timedelta(hours=1)


def queue_names() -> tuple[str, ...]:
    return settings.CELERY_QUEUE_NAMES if settings.REDIS_URL else ("celery",)


def queue_depths() -> dict[str, int]:
    """Messages waiting per queue (a queue nobody has used yet has none)."""
    from salesapp.celery import app

    depths = {}
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        for name in queue_names():
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except Exception:  # kombu raises when the queue does not exist yet
                depths[name] = 0
    return depths


class SalesCollector(Collector):
    def collect(self):
        counts = dict(Upload.objects.values_list("status").annotate(n=Count("id")).order_by())
        uploads = GaugeMetricFamily("salesapp_uploads", "Uploads by status.", labels=["status"])
        for status in Upload.Status.values:
            uploads.add_metric([status], counts.get(status, 0))
        yield uploads
        yield from self._etl()
        depth = GaugeMetricFamily("salesapp_queue_depth", "Tasks waiting in the broker.", labels=["queue"])
        for name, n in queue_depths().items():
            depth.add_metric([name], n)
        yield depth

    def _etl(self):
        done = Upload.objects.filter(finished_at__isnull=False, started_at__isnull=False).annotate(
            took=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        )
        le = {f"le_{b}": Count("id", filter=Q(took__lte=timedelta(seconds=b))) for b in DURATION_BUCKETS}
        agg = done.aggregate(n=Count("id"), total=Sum("took"), rows=Sum("rows_loaded"), **le)
        buckets = [(str(float(b)), agg[f"le_{b}"]) for b in DURATION_BUCKETS] + [("+Inf", agg["n"])]
        total = agg["total"].total_seconds() if agg["total"] else 0.0
        yield HistogramMetricFamily(
            "salesapp_etl_duration_seconds", "ETL time per finished upload.", buckets=buckets, sum_value=total
        )
        yield CounterMetricFamily(
            "salesapp_etl_rows_loaded", "Rows loaded by finished uploads.", value=agg["rows"] or 0
        )
        recent = done.filter(finished_at__gte=timezone.now() - RATE_WINDOW).aggregate(
            rows=Sum("rows_loaded"), took=Sum("took")
        )
        seconds = recent["took"].total_seconds() if recent["took"] else 0.0
        yield GaugeMetricFamily(
            "salesapp_etl_rows_per_second",
            "Rows loaded per second of ETL time, over uploads finished in the last hour.",
            value=(recent["rows"] or 0) / seconds if seconds else 0.0,
        )


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SalesCollector())
    return reg
