"""The one registry class for every pluggable part (backbones, necks, heads, decoders, losses), as in timm,
and the one "did you mean" helper every unknown-name error uses."""
from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, TypeVar

import torch.nn as nn

from ._input import InputSpec

T = TypeVar("T")
_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '(\w+)'")
Factory = Callable[..., nn.Module]


def closest_names(name: str, pool: Iterable[str], limit: int = 3, cutoff: float = 0.5) -> list[str]:
    """Names in ``pool`` that look like ``name``, best first."""
    return difflib.get_close_matches(str(name), list(pool), n=limit, cutoff=cutoff)


def unknown_keyword_error(error: TypeError, given: dict[str, Any], what: str) -> Exception:
    """A ``ValueError`` naming the keyword argument in ``given`` that ``error`` says ``what`` does not take, else ``error``."""
    unknown = _UNEXPECTED_KEYWORD.search(str(error))
    if unknown is None or unknown.group(1) not in given:
        return error
    return ValueError(f"{what} takes no argument {unknown.group(1)!r}; check the spelling of the keyword arguments given to it "
                      "(a config's *_kwargs or loss.kwargs)")


class Registry(Generic[T]):
    """Names -> entries (builders, or specs for backbones); unknown names get an error with suggestions."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> T | None:
        """Unregister ``name`` (e.g. a plugin registered for one test); returns its entry."""
        return self._entries.pop(name, None)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@NECKS.register("pan")`` on a builder."""
        return lambda entry: self.add(name, entry)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def find(self, name: str) -> T | None:
        return self._entries.get(name)

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def get(self, name: str) -> T:
        if name not in self._entries:
            close = closest_names(name, self._entries, cutoff=0.4)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}.")
        return self._entries[name]

    def build(self, name: str, **kwargs: Any) -> Any:
        """Call the builder registered under ``name``; a keyword argument it does not take is a ``ValueError`` naming it."""
        builder = self.get(name)
        try:
            return builder(**kwargs)
        except TypeError as error:
            raise unknown_keyword_error(error, kwargs, f"{self.kind} {name!r}") from None


@dataclass(frozen=True)
class BackboneSpec:
    """What the builder needs to know about one curated backbone name.

    ``factory(pretrained=bool, in_chans=int, **kwargs)`` returns the full classifier. With
    ``wrap="timm"`` the factory also accepts timm's ``features_only``/``out_indices``; with
    ``wrap="list"`` it returns a module carrying ``feature_info`` that timm's ``FeatureListNet``
    wraps (``flatten_sequential`` as given). ``classifier``, when set, builds the full classifier
    where it differs from what ``factory`` returns. ``new_modules`` name modules litebone adds,
    which upstream checkpoints cannot hold. ``input_spec`` is the input contract of the family's
    weights when they do not come from timm (whose ``pretrained_cfg`` is read otherwise).
    """

    name: str
    family: str
    source: str
    paper: str
    factory: Factory
    defaults: dict[str, Any] = field(default_factory=dict)
    wrap: str = "timm"
    flatten_sequential: bool = True
    taps: str = "the last block at each stride, as timm's features_only reports it"
    classifier: Factory | None = None
    new_modules: tuple[str, ...] = ()
    input_spec: InputSpec | None = None


BACKBONES: Registry[BackboneSpec] = Registry("backbone")


def register_backbone(
    name: str,
    *,
    family: str,
    source: str,
    paper: str,
    defaults: dict[str, Any] | None = None,
    wrap: str = "timm",
    flatten_sequential: bool = True,
    taps: str | None = None,
    classifier: Factory | None = None,
    new_modules: tuple[str, ...] = (),
    input_spec: InputSpec | None = None,
) -> Callable[[Factory], Factory]:
    """Register ``factory`` under ``name``; use as a decorator or call it on an existing factory."""
    if wrap not in ("timm", "list"):
        raise ValueError(f"wrap must be 'timm' or 'list', got {wrap!r}")

    def decorator(factory: Factory) -> Factory:
        BACKBONES.add(name, BackboneSpec(
            name=name, family=family, source=source, paper=paper, factory=factory, defaults=dict(defaults or {}),
            wrap=wrap, flatten_sequential=flatten_sequential, taps=taps or BackboneSpec.taps, classifier=classifier,
            new_modules=new_modules, input_spec=input_spec,
        ))
        return factory

    return decorator


def list_backbones(pattern: str = "*", include_timm: bool = False) -> list[str]:
    """Curated names matching a shell-style ``pattern``; ``include_timm`` adds every timm CNN name."""
    names = set(BACKBONES.names())
    if include_timm:
        import timm

        names |= set(timm.list_models())
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"))


def closest_backbones(name: str, limit: int = 5) -> list[str]:
    """Registered or timm names that look like ``name``, best first."""
    import timm

    pool = BACKBONES.names() + [n for n in timm.list_models() if n not in BACKBONES]
    return closest_names(name, pool, limit) or [n for n in pool if name.split("_")[0] in n][:limit]
