"""The two patch flavours ``FakeClient.patch`` applies: JSON merge patch (RFC 7386) and just enough
strategic merge for controllers (ownerReferences merged by uid, ``$patch: delete``)."""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_patch(target: Any, patch: Any) -> Any:
    """Enough strategic merge for controllers: ownerReferences merge by uid (with ``$patch: delete``)."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif k == "ownerReferences" and isinstance(v, list):
            refs = list(out.get(k) or [])
            for item in v:
                refs = [r for r in refs if r.get("uid") != item.get("uid")]
                if item.get("$patch") != "delete":
                    refs.append(item)
            out[k] = refs
        else:
            out[k] = strategic_patch(out.get(k), v) if isinstance(v, dict) else copy.deepcopy(v)
    return out
