from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class AccessControlConfig(AppConfig):
    name = "accesscontrol"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The app creates its own data directory: a fresh clone or `make clean` leaves no
        # var/, and SQLite cannot create a database file in a missing directory.
        for database in settings.DATABASES.values():
            name = str(database.get("NAME", ""))
            on_disk = name and ":memory:" not in name and not name.startswith("file:")
            if database.get("ENGINE", "").endswith("sqlite3") and on_disk:
                Path(name).parent.mkdir(parents=True, exist_ok=True)
