"""Django's SQLite backend, making the database file's folder (by default DATA_DIR) when a
process first opens the file: SQLite makes the file but not its folder, and the settings
create nothing (salesapp/folders.py). So `manage.py migrate` runs on a fresh DATA_DIR."""

from pathlib import Path

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        name = conn_params["database"]
        if not self.creation.is_in_memory_db(name) and not str(name).startswith("file:"):
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        return super().get_new_connection(conn_params)
