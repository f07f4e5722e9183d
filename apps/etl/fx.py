"""The FX rates the admin manages, as the pipeline takes them."""

from datetime import date
from decimal import Decimal

from apps.etl.models import FxRate


def fx_rates_into(quote_currency: str) -> tuple[tuple[str, date, Decimal], ...]:
    """Every rate into `quote_currency`: (currency, first day of its month, rate)."""
    rates = FxRate.objects.filter(quote_currency=quote_currency)
    return tuple(rates.values_list("currency", "month", "rate"))
