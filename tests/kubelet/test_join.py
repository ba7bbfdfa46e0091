"""Join tokens: k3s's K10<CA hash>::<user>:<secret> form and the bare secret."""

from __future__ import annotations

import pytest

from kybernetes.kubelet import join


def test_parse_token_forms() -> None:
    digest = "ab" * 32
    assert join.parse_token(f"K10{digest}::server:s3cret\n") == (digest, "s3cret")
    assert join.parse_token(f"K10{digest.upper()}::node:pw") == (digest, "pw")
    assert join.parse_token("just-a-secret") == (None, "just-a-secret")
    assert join.parse_token("K10abcdef") == (None, "K10abcdef")  # an old bare token that happens to start with K10
    with pytest.raises(join.JoinError, match="malformed join token"):
        join.parse_token(f"K10{digest}::server:")


async def test_bare_secret_needs_a_ca() -> None:
    with pytest.raises(join.JoinError, match="the token has no CA hash"):
        await join.join("https://127.0.0.1:1", "secret", [join.node_user("n")])
