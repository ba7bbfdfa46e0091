"""The pod-template hash that names a Deployment's ReplicaSets (``<deploy>-<hash>``).

Kubernetes' ``ComputeHash`` feeds a PodTemplateSpec to FNV-32a through ``DeepHashObject`` (go-spew's
printing of the Go struct), adds the collision count as 8 little-endian bytes, and encodes the
decimal digits of the sum with ``SafeEncodeString`` (alphabet ``bcdfghjklmnpqrstvwxz2456789``, no
vowels). The spew printing of a Go struct cannot be reproduced from JSON, so the bytes hashed here
are the template's canonical JSON (sorted keys, no spaces): hashes have the same alphabet, length
and stability as upstream's (``5d9c7b8f9d``) but are not byte-identical to what a Go
kube-controller-manager would compute for the same template. Nothing compares hashes across
implementations: the new ReplicaSet is found by template equality, never by hash.
"""

from __future__ import annotations

from typing import Any

import orjson

FNV32_OFFSET = 0x811C9DC5
FNV32_PRIME = 0x01000193
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes, h: int = FNV32_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode_string(s: str) -> str:
    """Map each byte onto the vowel-free alphabet (``rand.SafeEncodeString``)."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in s.encode())


def compute_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    h = fnv32a(orjson.dumps(template, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\x00" * 4, h)
    return safe_encode_string(str(h))
