"""A small JSON Schema validator for tool inputs: the subset tool specs use, nothing more.

Checks ``type`` (object, string, integer, number, boolean, array), ``properties``, ``required``,
``additionalProperties: false``, ``minProperties``, ``maxProperties``, ``enum``, ``pattern`` (ASCII: ``\\d`` is 0-9 only), ``minLength``,
``maxLength``, ``minimum``, ``maximum`` and ``items``. Unknown keywords are ignored. The Lambda
package carries no jsonschema dependency for this.

>>> schema = {"type": "object", "properties": {"order_id": {"type": "string", "pattern": "^[0-9]{6}$"}},
...           "required": ["order_id"], "additionalProperties": False}
>>> errors(schema, {"order_id": "123456"})
[]
>>> errors(schema, {"order_id": "12", "x": 1})
['order_id: does not match ^[0-9]{6}$', 'x: not allowed']
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Mapping

_TYPES = {
    "object": lambda v: isinstance(v, Mapping),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
}
MAX_DEPTH = 8


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


def errors(schema: Mapping[str, Any], value: Any, path: str = "", depth: int = 0) -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty when it validates), as ``path: why``."""
    where = path or "input"
    if depth > MAX_DEPTH:
        return [f"{where}: nested too deeply"]
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _TYPES and not _TYPES[kind](value):
        return [f"{where}: must be {kind}"]
    found: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        if "pattern" in schema:
            try:
                if not _pattern(schema["pattern"]).search(value):
                    found.append(f"{where}: does not match {schema['pattern']}")
            except re.error:
                found.append(f"{where}: the schema's pattern is not a valid regex")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1 << 30):
            found.append(f"{where}: length out of range")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < schema.get("minimum", float("-inf")) or value > schema.get("maximum", float("inf")):
            found.append(f"{where}: out of range")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            found += errors(schema["items"], item, f"{path}[{i}]", depth + 1)
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        low, high = schema.get("minProperties", 0), schema.get("maxProperties", 1 << 30)
        if not low <= len(value) <= high:
            count = f"exactly {low}" if low == high else f"at least {low}" if high >= 1 << 30 else f"{low} to {high}"
            found.append(f"{where}: give {count} of {', '.join(properties)}")
        for name in schema.get("required") or []:
            if name not in value:
                found.append(f"{name}: required")
        for name, item in value.items():
            child = f"{path}.{name}" if path else str(name)
            if name in properties and isinstance(properties[name], Mapping):
                found += errors(properties[name], item, child, depth + 1)
            elif schema.get("additionalProperties") is False:
                found.append(f"{child}: not allowed")
    return found
