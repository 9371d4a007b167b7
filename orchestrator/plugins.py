"""Resolve "module:attribute" references, so built-in parts load only when chosen."""
from __future__ import annotations

import importlib
from typing import Any


def resolve(reference: Any) -> Any:
    """``"package.module:name"`` -> the object; anything else is returned as it is."""
    if not isinstance(reference, str):
        return reference
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
