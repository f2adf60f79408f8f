import threading
from datetime import UTC, datetime

from opsknight import ids

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_new_id_is_prefixed_crockford_ulid():
    value = ids.new_id("inc")
    prefix, body = value.split("_")
    assert prefix == "inc"
    assert len(body) == 26 and set(body) <= CROCKFORD
    millis = int(body[:10].translate(str.maketrans("JKMNPQRSTVWXYZ", "IJKLMNOPQRSTUV")), 32)
    made_at = datetime.fromtimestamp(millis / 1000, tz=UTC)
    assert abs((datetime.now(tz=UTC) - made_at).total_seconds()) < 5


def test_ids_made_later_sort_later_even_within_a_millisecond():
    made = [ids.new_id("evt") for _ in range(5000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_ids_from_threads_are_unique():
    made: list[str] = []
    lock = threading.Lock()

    def work():
        local = [ids.new_id("dlv") for _ in range(500)]
        with lock:
            made.extend(local)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 4000
