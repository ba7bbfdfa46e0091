from __future__ import annotations

import pytest

from kybernetes.api import selectors
from kybernetes.api.errors import StatusError


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("tier in (a, b)", {"tier": "b"}, True),
    ("tier in (a,b)", {"tier": "c"}, False),
    ("tier notin (a)", {}, True),
    ("tier notin (a)", {"tier": "a"}, False),
    ("tier", {"tier": ""}, True),
    ("!tier", {"tier": "x"}, False),
    ("!tier", {}, True),
    ("app=web,tier in (fe),!legacy", {"app": "web", "tier": "fe"}, True),
    ("app=web,tier in (fe),!legacy", {"app": "web", "tier": "fe", "legacy": "1"}, False),
    ("n>3", {"n": "4"}, True),
    ("n<3", {"n": "4"}, False),
    ("", {"x": "y"}, True),
])
def test_label_selector(text: str, labels: dict[str, str], expected: bool) -> None:
    assert selectors.parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["a in b", "a=b c", "=x", "a in (b", "a/b/c=d", "a=-bad-"])
def test_label_selector_errors(text: str) -> None:
    with pytest.raises(StatusError) as e:
        selectors.parse_label_selector(text)
    assert e.value.code == 400


def test_field_selector() -> None:
    sel = selectors.parse_field_selector("involvedObject.name=N,involvedObject.namespace=,status.phase!=Failed")
    assert sel.matches({"involvedObject.name": "N", "involvedObject.namespace": "", "status.phase": "Running"})
    assert not sel.matches({"involvedObject.name": "N", "involvedObject.namespace": "", "status.phase": "Failed"})
    assert sel.value_of("involvedObject.name") == "N"
    with pytest.raises(StatusError) as e:
        selectors.check_field_labels(sel, {"involvedObject.name"})
    assert e.value.message == "field label not supported: involvedObject.namespace"


def test_label_selector_objects() -> None:
    sel = selectors.selector_from_label_selector(
        {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]})
    assert sel is not None and sel.matches({"app": "web", "tier": "a"}) and not sel.matches({"app": "web"})
    empty = selectors.selector_from_label_selector({})
    assert empty is not None and empty.matches({"anything": "x"})
    assert selectors.selector_from_label_selector(None) is None
