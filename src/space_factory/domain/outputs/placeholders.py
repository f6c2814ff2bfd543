"""The words a hand-written stub returns instead of inference ("TODO", "lorem ipsum", "mock output", …)."""

from __future__ import annotations

import re

__all__ = ["PLACEHOLDERS", "STUB_TEXTS", "is_placeholder", "normalise"]

# Compared after `normalise`: stripped, lowercased, whitespace collapsed, wrapping quotes/brackets removed.
# Stub markers no model says on its own; transcripts are held to these only, since a speech sample
# may well say "hello world" or "testing".
STUB_TEXTS = frozenset(
    {
        "todo", "tbd", "fixme", "placeholder", "placeholder text", "lorem ipsum", "not implemented",
        "not implemented yet", "...", "…", "n/a", "none", "null", "nil", "undefined", "nan",
        "example output", "sample output", "dummy", "dummy output", "dummy text", "mock", "mock output",
        "fake output", "stub", "your text here", "output goes here",
    }
)  # fmt: skip
# Generated text is also held to the words a hand-written stub returns.
PLACEHOLDERS = STUB_TEXTS | {
    "hello world", "hello, world", "test", "testing", "this is a test", "test output", "output", "result",
    "response", "prediction", "example", "sample text", "foo", "bar", "foobar", "xxx", "na", "generated text",
}  # fmt: skip
_PLACEHOLDER_PREFIX_RE = re.compile(
    r"^(?:placeholder\b|lorem ipsum\b|todo:|not ?implemented\b"
    r"|this is (?:a |an |just a |only a )?(?:placeholder|mock|fake|dummy|stub)\b"
    r"|(?:mock|mocked|fake|dummy|stub) (?:output|response|result|prediction|answer|text|transcript)\b)"
)


def normalise(text: str) -> str:
    """Whitespace collapsed and lowercased: how texts are compared (tokenizers re-space text on decode)."""
    return " ".join(text.split()).lower()


def is_placeholder(text: str, vocabulary: frozenset[str] = PLACEHOLDERS) -> bool:
    """Whether `text` is a stub's answer: a word of `vocabulary`, a stub prefix, or dots only.

    Example:
        >>> is_placeholder('"Lorem ipsum dolor"'), is_placeholder("[TODO]"), is_placeholder("The cat sat.")
        (True, True, False)
    """
    norm = normalise(text)
    bare = norm.strip("\"'`[](){}<>*_ ").rstrip(".!").strip()
    return (
        norm in vocabulary
        or bare in vocabulary
        or _PLACEHOLDER_PREFIX_RE.match(bare) is not None
        or (norm != "" and norm.strip(".… ") == "")
    )
