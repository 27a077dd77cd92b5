"""`genlab train MODEL --help` from the config dataclasses themselves: each key's type, default, one-line
help and allowed values (field metadata, Literal types, the registry, or the `a | b` list opening the
field's source comment), so no second table of options exists to drift from the code."""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, fields, is_dataclass

from .config import _strip_optional, field_types


def type_name(tp) -> str:
    """int, float, str, bool, 'int or none', 'tuple[float, float]' ..."""
    tp, optional = _strip_optional(tp)
    name = tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")
    return f"{name} or none" if optional else name


@dataclass(frozen=True)
class KeyHelp:
    """One `--section.key` of `genlab train MODEL --help`."""

    key: str
    type: str
    default: str
    help: str
    choices: tuple  # allowed values ((): any value of the type)


# keys whose value names a registered component, by field name (their choices come from the registry)
REGISTRY_KEYS = {"loss": "LOSSES", "optimizer": "OPTIMIZERS", "extractor": "EXTRACTORS", "classifier": "EXTRACTORS"}


def allowed_values(cls, f) -> tuple:
    """What a field may hold, without a second table: its metadata `choices`; True/False for bools;
    the values of a Literal; the registry for fields that name a component (loss, optimizer, ...); the
    `a | b | c` list that opens the field's comment in the source (model configs until they carry
    metadata)."""
    if f.metadata.get("choices"):
        return tuple(f.metadata["choices"])
    tp, _ = _strip_optional(field_types(cls)[f.name])
    if tp is bool:
        return (True, False)
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    if tp is str and f.name in REGISTRY_KEYS:
        from . import registry

        names = tuple(getattr(registry, REGISTRY_KEYS[f.name]))
        if names:
            return names
    return _comment_choices(_source_comments(cls).get(f.name, ""))


def _comment_choices(comment: str) -> tuple:
    return _split_comment(comment)[0]


def _split_comment(comment: str) -> tuple[tuple, str]:
    """'auto | conv | mlp (for images)' -> (('auto', 'conv', 'mlp'), 'for images'); no list -> ((), comment)."""
    import re

    m = re.match(r"\s*([\w.+-]+(?:\s*\|\s*[\w.+-]+)+)", comment)
    if not m:
        return (), comment
    rest = comment[m.end():].strip()
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    return tuple(v.strip() for v in m.group(1).split("|")), rest.strip(" :;,-")


def _source_comments(cls) -> dict[str, str]:
    """field name -> the `# comment` on its line in the source of `cls` or of the dataclass it extends
    ({} where the source is unavailable)."""
    import inspect
    import io
    import tokenize

    cached = _COMMENTS.get(cls)
    if cached is not None:
        return cached
    out: dict[str, str] = {}
    names = {f.name for f in fields(cls)}
    for klass in cls.__mro__:
        if klass is object or not is_dataclass(klass):
            continue
        try:
            src = inspect.getsource(klass)
            last = None
            for tok in tokenize.generate_tokens(io.StringIO(src).readline):
                if tok.type == tokenize.NAME and tok.start[1] == 4 and tok.string in names:
                    last = (tok.string, tok.start[0])
                elif tok.type == tokenize.COMMENT and last and tok.start[0] == last[1]:
                    out.setdefault(last[0], tok.string.lstrip("#").strip())
        except (OSError, TypeError, tokenize.TokenError, IndentationError):
            continue
    _COMMENTS[cls] = out
    return out


_COMMENTS: dict[type, dict[str, str]] = {}


def key_help(cls) -> list[KeyHelp]:
    """Every key of config dataclass `cls` with its type, default, one-line help and allowed values.
    Help: the field's metadata `help`, else the comment on its line in the source."""
    rows = []
    comments = _source_comments(cls)
    for f in fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "")
        text = f.metadata.get("help") or comments.get(f.name, "")
        choices = allowed_values(cls, f)
        if not f.metadata.get("help"):
            listed, rest = _split_comment(text)
            if listed and listed == choices:
                text = rest  # the list is shown as the allowed values; keep what the comment adds
        rows.append(KeyHelp(f.name, type_name(field_types(cls)[f.name]), repr(default), text, choices))
    return rows


def config_help(cls) -> list[tuple[str, str, str]]:
    """(key, type, default) rows (see `key_help` for help text and allowed values)."""
    return [(k.key, k.type, k.default) for k in key_help(cls)]
