"""Name -> component registries (MODELS, LOSSES, DATASETS, EXTRACTORS).

Components register themselves with decorators at import time; `genlab.components` imports every
module explicitly, so `list` shows everything and nothing is discovered by magic.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import GenlabError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component: the object plus free-form metadata (config class, family, help)."""

    name: str
    obj: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A named mapping with helpful errors: `REG[name]` raises GenlabError listing valid names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, obj: T | None = None, **meta: Any) -> Callable[[T], T] | T:
        """Register `obj` under `name`; without `obj`, return a decorator."""

        def add(o: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = Entry(name, o, dict(meta))
            return o

        return add if obj is None else add(obj)

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise GenlabError(
                f"unknown {self.kind} {name!r}{hint}; choose one of: {', '.join(sorted(self._entries))}"
            ) from None

    def __getitem__(self, name: str) -> T:
        return self.entry(name).obj

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def entries(self) -> list[Entry[T]]:
        return [self._entries[k] for k in sorted(self._entries)]


MODELS: Registry[type] = Registry("model")
LOSSES: Registry[Any] = Registry("loss")
DATASETS: Registry[Callable[..., Any]] = Registry("dataset")
EXTRACTORS: Registry[Callable[..., Any]] = Registry("extractor")
OPTIMIZERS: Registry[Callable[..., Any]] = Registry("optimizer")


def register_model(name: str, *, config: type, family: str, help: str = "",
                   tiny: dict | None = None, test_data: str = "digits",
                   test_data_options: dict | None = None) -> Callable[[type], type]:
    """Class decorator: `@register_model("vae", config=VAEConfig, family="likelihood")`.

    tiny / test_data / test_data_options: model-config overrides and a dataset (with its --data.KEY options,
    e.g. {"derive": "noise:gaussian:0.3"}) on which the registry-parametrised contract tests build and step
    this model in well under a second.
    """
    return MODELS.register(name, config=config, family=family, help=help,  # type: ignore[return-value]
                           tiny=dict(tiny or {}), test_data=test_data,
                           test_data_options=dict(test_data_options or {}))
