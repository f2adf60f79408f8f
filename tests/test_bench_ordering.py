"""The bench's out-of-order count (scenario 13), on receiver records made by hand: it is
the check that per-incident ordering held, so it must count what a receiver would see."""

from bench.scenarios_ordering import out_of_order

# event id -> (incident id, version)
VERSIONS = {"e1": ("inc_a", 1), "e2": ("inc_a", 2), "e3": ("inc_a", 3), "f1": ("inc_b", 1), "f2": ("inc_b", 2)}


def record(path: str, event_id: str, held: bool = False) -> list:
    return [path, event_id, f"dlv_{event_id}", 0.0, held]


def test_in_order_per_path_and_incident_counts_nothing():
    records = [record("/0", "e1"), record("/0", "f1"), record("/1", "e1"), record("/0", "e2"), record("/0", "f2")]
    records += [record("/1", "e2"), record("/0", "e3"), record("/1", "e3")]
    assert out_of_order(records, VERSIONS, ["/0", "/1"]) == 0


def test_a_version_after_a_later_one_counts_once_each():
    # e3 before e1 and e2 at /0: both late; at /1, e2 after e3 only.
    records = [record("/0", "e3"), record("/0", "e1"), record("/0", "e2")]
    records += [record("/1", "e1"), record("/1", "e3"), record("/1", "e2")]
    assert out_of_order(records, VERSIONS, ["/0", "/1"]) == 3


def test_repeats_held_requests_and_other_paths_or_events_are_left_out():
    records = [
        record("/0", "e1"),
        record("/0", "e2"),
        record("/0", "e1"),  # a repeat of e1: its first arrival was in order
        record("/0", "e3", held=True),  # never answered
        record("/other", "e3"),
        record("/other", "e1"),  # not a path of this drain
        record("/0", "warm-up"),  # not an event of this drain
    ]
    assert out_of_order(records, VERSIONS, ["/0"]) == 0
