"""A small decorator registry for pluggable parts (necks, heads, decoders, losses), as in timm."""
from __future__ import annotations

import difflib
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to builders; ``build`` gives a clear error with suggestions for unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(builder: Callable[..., T]) -> Callable[..., T]:
            if name in self._builders:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._builders[name] = builder
            return builder

        return decorator

    def names(self) -> list[str]:
        return sorted(self._builders)

    def build(self, name: str, **kwargs: Any) -> T:
        if name not in self._builders:
            close = difflib.get_close_matches(name, self._builders, n=3, cutoff=0.4)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}.")
        return self._builders[name](**kwargs)
