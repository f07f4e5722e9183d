"""The app's settings plus the benchmark's row-at-a-time target model (bench.models)."""

from salesapp.settings import *  # noqa: F403
from salesapp.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "import_export", "bench"]
