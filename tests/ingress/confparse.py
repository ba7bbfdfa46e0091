"""A small nginx.conf reader for assertions: the rendered text → a tree of directives and blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|[{};]|[^\s{};"\']+')


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    children: list[Directive] = field(default_factory=list)

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]

    def values(self, name: str) -> list[str]:
        return [" ".join(d.args) for d in self.all(name)]


def _unquote(tok: str) -> str:
    return tok[1:-1] if tok[:1] in "\"'" else tok


def parse(text: str) -> list[Directive]:
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    stack: list[list[Directive]] = [[]]
    words: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok == ";":
            stack[-1].append(Directive(words[0], [_unquote(w) for w in words[1:]]))
            words = []
        elif tok == "{":
            d = Directive(words[0], [_unquote(w) for w in words[1:]], [])
            stack[-1].append(d)
            assert d.block is not None
            stack.append(d.block)
            words = []
        elif tok == "}":
            assert not words, words
            stack.pop()
        else:
            words.append(tok)
    assert len(stack) == 1 and not words, "unbalanced configuration"
    return stack[0]


@dataclass
class Conf:
    """Servers by server_name ("_" = catch-all): location head → directives; upstreams: name → servers."""

    servers: dict[str, dict[str, Directive]]
    server_blocks: dict[str, Directive]
    upstreams: dict[str, list[str]]


def read(text: str) -> Conf:
    top = parse(text)
    http = next(d for d in top if d.name == "http")
    servers: dict[str, dict[str, Directive]] = {}
    blocks: dict[str, Directive] = {}
    upstreams: dict[str, list[str]] = {}
    for d in http.block or []:
        if d.name == "upstream":
            upstreams[d.args[0]] = [s.args[0] for s in d.all("server")]
        elif d.name == "server":
            name = d.values("server_name")[0]
            blocks[name] = d
            servers[name] = {" ".join(loc.args): loc for loc in d.all("location")}
    return Conf(servers, blocks, upstreams)


def target(loc: Directive) -> str:
    """Where a location sends requests: ``proxy_pass`` URL, or ``return <code>``."""
    passes = loc.values("proxy_pass")
    if passes:
        return passes[0]
    return "return " + loc.values("return")[0]
