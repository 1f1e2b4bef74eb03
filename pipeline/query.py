"""A forgiving parser for search boxes, shared by every backend.

Accepts words, ``"phrases"``, ``prefix*``, ``OR``, ``AND``, ``NOT`` / ``-word`` and
parentheses. Anything else (stray quotes, unbalanced parentheses, operators in odd
places, punctuation) is tolerated, never an error: user input can not break a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r'"[^"]*"?|\(|\)|-?[^\s()"]+')
_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 64


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or several for a phrase
    prefix: bool = False


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Not | And | Or


def _term(raw: str, phrase: bool = False) -> Term | None:
    words = tuple(w.lower() for w in _WORD.findall(raw))
    if not words:
        return None
    return Term(words, prefix=not phrase and raw.endswith("*") and len(words) == 1)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[str] = _TOKEN.findall(text)[: _MAX_TERMS * 2]
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse_or(self) -> Node | None:
        nodes = [n for n in [self.parse_and()] if n is not None]
        while self.peek() == "OR":
            self.take()
            node = self.parse_and()
            if node is not None:
                nodes.append(node)
        if not nodes:
            return None
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def parse_and(self) -> Node | None:
        nodes: list[Node] = []
        while (tok := self.peek()) is not None and tok not in ("OR", ")"):
            if tok == "AND":
                self.take()
                continue
            node = self.parse_unary()
            if node is not None:
                nodes.append(node)
        if not nodes:
            return None
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def parse_unary(self) -> Node | None:
        tok = self.take()
        if tok == "NOT":
            if self.peek() in (None, "OR", ")"):
                return None
            inner = self.parse_unary()
            return Not(inner) if inner is not None else None
        if tok == "(":
            inner = self.parse_or()
            if self.peek() == ")":
                self.take()
            return inner
        if tok.startswith("-") and len(tok) > 1:
            inner = _term(tok[1:].strip('"'), phrase=tok[1:].startswith('"'))
            return Not(inner) if inner is not None else None
        if tok.startswith('"'):
            return _term(tok.strip('"'), phrase=True)
        return _term(tok)


def parse(text: str) -> Node | None:
    """The query tree of ``text``, or ``None`` when it holds no searchable word."""
    parser = _Parser(text)
    node: Node | None = None
    while parser.pos < len(parser.tokens):  # stray ")" ends a parse; keep going after it
        part = parser.parse_or()
        if part is not None:
            node = part if node is None else And((node, part))
        if parser.peek() == ")":
            parser.take()
    return node


def positive(node: Node | None) -> bool:
    """Whether ``node`` matches anything by itself (is not only exclusions)."""
    if node is None or isinstance(node, Not):
        return False
    if isinstance(node, Term):
        return True
    if isinstance(node, And):
        return any(positive(n) for n in node.nodes)
    return all(positive(n) for n in node.nodes)


def to_fts5(node: Node) -> str | None:
    """FTS5 MATCH syntax for a positive ``node`` (every word quoted, so no word is an operator)."""
    if isinstance(node, Term):
        quoted = '"' + " ".join(node.words) + '"'
        return quoted + "*" if node.prefix else quoted
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        parts = [p for p in (to_fts5(n) for n in node.nodes) if p]
        return "(" + " OR ".join(parts) + ")" if parts else None
    pos = [p for p in (to_fts5(n) for n in node.nodes if not isinstance(n, Not)) if p]
    neg = [p for p in (to_fts5(n.node) for n in node.nodes if isinstance(n, Not)) if p]
    if not pos:
        return None
    expr = "(" + " AND ".join(pos) + ")"
    for n in neg:
        expr = f"({expr} NOT {n})"
    return expr


def exclusions(node: Node | None) -> list[Node]:
    """The excluded parts of a query that has no positive part ("-sport")."""
    if isinstance(node, Not):
        return [node.node]
    if isinstance(node, And) and not positive(node):
        return [n.node for n in node.nodes if isinstance(n, Not)]
    return []
