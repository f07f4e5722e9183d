from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo cast and reference data (`seed_demo`), and `serve`, the `make run` launcher.
    No models: it writes the models of accounts and etl."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo data and the local launcher"
