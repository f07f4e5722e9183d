"""The configured warehouse, and keeping its table and views in line with the regions."""

from functools import cache

from django.conf import settings

from apps.accounts.models import Region
from apps.warehouse.base import Warehouse
from apps.warehouse.fact import MASTER_VIEW, ViewSpec


@cache
def _warehouse(kind: str, root: str) -> Warehouse:
    if kind == "embedded":
        from apps.warehouse.embedded import EmbeddedWarehouse

        return EmbeddedWarehouse(root)
    raise NotImplementedError(f"WAREHOUSE={kind} is not available yet; unset WAREHOUSE to use the embedded warehouse.")


def warehouse() -> Warehouse:
    """The warehouse the settings point at (one instance per process and configuration)."""
    return _warehouse(settings.WAREHOUSE, str(settings.WAREHOUSE_DIR))


def view_specs() -> list[ViewSpec]:
    regions = Region.objects.order_by("view_name")
    return [ViewSpec(r.view_name, r.country_code) for r in regions] + [ViewSpec(MASTER_VIEW)]


def warehouse_sync() -> list[str]:
    """Create or upgrade the fact table and one view per region plus the master view."""
    return warehouse().ensure_schema(views=view_specs())
