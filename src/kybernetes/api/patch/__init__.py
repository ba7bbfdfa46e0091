"""The non-apply patch engines: JSON Patch, JSON Merge Patch and strategic merge patch.

Each is a pure function over parsed JSON that returns a new document and raises ``StatusError``
with the code a real API server would use. The apiserver's PATCH handler picks one by
``Content-Type``; server-side apply lives elsewhere.
"""

from kybernetes.api.patch.jsonpatch import apply_json_patch
from kybernetes.api.patch.mergepatch import apply_merge_patch, apply_merge_patch_owned, create_merge_patch
from kybernetes.api.patch.strategic import apply_strategic_merge_patch
from kybernetes.api.patch.strategic_diff import create_two_way_strategic_merge_patch

__all__ = [
    "apply_json_patch",
    "apply_merge_patch",
    "apply_merge_patch_owned",
    "apply_strategic_merge_patch",
    "create_merge_patch",
    "create_two_way_strategic_merge_patch",
]
