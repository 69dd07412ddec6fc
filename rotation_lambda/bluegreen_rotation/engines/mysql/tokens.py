"""The tokenizer of the server's printed statements (``SHOW GRANTS``, ``SHOW CREATE USER``).

Quoted names and string literals are single tokens, so a backtick, quote or wildcard inside a name
(```my\\_db```) never splits it; the helpers find words and lists at the top level only.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

_TOKEN_RE = re.compile(
    r"""(?P<bq>`(?:[^`]|``)*`)
      | (?P<sq>'(?:[^'\\]|\\.|'')*')
      | (?P<dq>"(?:[^"\\]|\\.|"")*")
      | (?P<num>0x[0-9A-Fa-f]+|\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
      | (?P<ws>\s+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


class Token(NamedTuple):
    kind: str  # bq (`name`), sq ('text'), dq, num, word, other (punctuation)
    text: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def tokenize(text: str) -> list[Token]:
    """Tokens of one statement as the server printed it; whitespace dropped, quoting kept intact."""
    out = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup or "other"
        if kind != "ws":
            out.append(Token(kind, m.group(), m.start(), m.end()))
    return out


def unquote(token: Token) -> str:
    """The value of a quoted name or string literal (server escapes undone)."""
    text = token.text
    if token.kind == "bq":
        return text[1:-1].replace("``", "`")
    if token.kind in ("sq", "dq"):
        q = text[0]
        body = text[1:-1].replace(q + q, q)
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0"}.get(m.group(1), m.group(1)), body)
    return text


def split_top(tokens: list[Token], sep: str = ",") -> list[list[Token]]:
    """Splits at top-level separators (not inside parentheses)."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        if depth == 0 and t.kind == "other" and t.text == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


def text_of(line: str, tokens: list[Token]) -> str:
    return line[tokens[0].start : tokens[-1].end] if tokens else ""


def find_word(tokens: list[Token], word: str, start: int = 0) -> int:
    depth = 0
    for i in range(start, len(tokens)):
        t = tokens[i]
        depth += (t.text == "(") - (t.text == ")")
        if depth == 0 and t.is_word(word):
            return i
    return -1


def account_end(tokens: list[Token], i: int) -> int:
    """Index after an account or role name at ``i`` (``name`` or ``name@host``)."""
    i += 1
    if i < len(tokens) and tokens[i].text == "@":
        i += 2
    return i


def has_option(tokens: list[Token], word: str) -> bool:
    """Whether ``WITH ... <word> OPTION`` follows (the server may print limits around it)."""
    return any(a.is_word(word) and b.is_word("OPTION") for a, b in itertools.pairwise(tokens))
