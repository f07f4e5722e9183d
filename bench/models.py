"""A plain Django model for the row-at-a-time importer to fill: one ORM object per row."""

from django.db import models


class OrderLine(models.Model):
    invoice_no = models.CharField(max_length=16)
    stock_code = models.CharField(max_length=16)
    description = models.CharField(max_length=64)
    quantity = models.IntegerField()
    invoice_date = models.DateTimeField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    customer_id = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=64)

    class Meta:
        app_label = "bench"

    def __str__(self) -> str:
        return f"{self.invoice_no} {self.stock_code}"
