from django.apps import AppConfig


class EtlConfig(AppConfig):
    name = "apps.etl"
    label = "etl"
    verbose_name = "ETL: schema contract, countries and FX rates"
