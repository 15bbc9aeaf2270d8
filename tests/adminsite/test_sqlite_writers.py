"""The SQLite settings make concurrent writers queue: the local stack's scheduled sync and
a request that reads then writes (update_network) must not meet as "database is locked"."""

import threading
import time

from django.db import connections, transaction

from adminsite.settings import SQLITE_OPTIONS


def _configure(alias: str, path: str) -> None:
    config = {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": SQLITE_OPTIONS}
    configured = connections.configure_settings({"default": config, alias: config})
    connections.settings[alias] = configured[alias]


def test_a_read_then_write_transaction_waits_for_another_writer(tmp_path, django_db_blocker):
    # Its own database file, not the test database: pytest-django's guard is lifted for it.
    with django_db_blocker.unblock():
        _race(str(tmp_path / "db.sqlite3"))


def _race(path: str) -> None:
    aliases = ("writer", "reader_writer")
    for alias in aliases:
        _configure(alias, path)
    with connections["writer"].cursor() as cursor:
        cursor.execute("CREATE TABLE t (n INTEGER)")
    holding = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with transaction.atomic(using="writer"):
                connections["writer"].cursor().execute("INSERT INTO t VALUES (1)")
                holding.set()
                time.sleep(0.5)  # the sync holding its write for a moment
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections["writer"].close()

    def reader_writer() -> None:
        holding.wait(5)
        try:
            with transaction.atomic(using="reader_writer"):
                cursor = connections["reader_writer"].cursor()
                cursor.execute("SELECT count(*) FROM t")  # the select_for_update read
                cursor.execute("INSERT INTO t VALUES (2)")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections["reader_writer"].close()

    threads = [threading.Thread(target=writer), threading.Thread(target=reader_writer)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        with connections["writer"].cursor() as cursor:
            cursor.execute("SELECT n FROM t ORDER BY n")
            assert [row[0] for row in cursor.fetchall()] == [1, 2]
    finally:
        for alias in aliases:
            connections[alias].close()
            del connections.settings[alias]
