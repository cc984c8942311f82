"""Rebuilding the configuration dataclasses of :mod:`emonet.models` and
:mod:`emonet.training` from their dicts (pure Python, for both stages)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def config_from_dict(cls: type[T], config: dict[str, Any], what: str) -> T:
    """``cls(**config)``, after refusing keys that are not fields of ``cls``.

    ``what`` names the configuration in the error, e.g. ``"training configuration"``.
    """
    unknown = sorted(set(config) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"unknown {what} keys: {', '.join(unknown)}")
    return cls(**config)
