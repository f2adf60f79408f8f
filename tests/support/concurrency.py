"""Races for the tests: the same work in many threads, released together."""

import threading
from collections.abc import Callable

from django.db import connection, connections


def run_at_once(work: Callable[[int], object], count: int) -> list:
    """Run work(0..count-1) in threads released together; returns each result or the
    exception it raised. Each thread connects to the database before the release (so
    the connecting does not spread the race out) and closes its connection after."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - handed back to the test
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results
