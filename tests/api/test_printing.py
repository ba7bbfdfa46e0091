from __future__ import annotations

import pytest

from kybernetes.api import printing


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (119, "119s"), (150, "2m30s"), (303, "5m3s"), (600, "10m"), (4000, "66m"),
    (3 * 3600 + 20 * 60, "3h20m"), (8 * 3600, "8h"), (30 * 3600, "30h"), (3 * 86400 + 11 * 3600, "3d11h"),
    (10 * 86400, "10d"), (400 * 86400, "400d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds: int, text: str) -> None:
    assert printing.human_duration(seconds) == text


def test_time_round_trip() -> None:
    t = printing.parse_time("2026-11-22T02:10:17Z")
    assert t is not None and printing.format_time(t) == "2026-11-22T02:10:17Z"
    assert printing.parse_time("2026-11-22T02:10:17.5Z") == t + 0.5
    assert printing.format_time(t + 0.25, micro=True) == "2026-11-22T02:10:17.250000Z"


def test_selector_strings() -> None:
    assert printing.label_selector_string(None) == "<none>"
    sel = {"matchLabels": {"b": "2", "a": "1"},
           "matchExpressions": [{"key": "t", "operator": "In", "values": ["x", "y"]},
                                {"key": "z", "operator": "DoesNotExist"}]}
    assert printing.label_selector_string(sel) == "a=1,b=2,t in (x,y),!z"
    assert printing.map_selector_string({"app": "web"}) == "app=web"
