"""Tools declared as JSON Schema specs (Bedrock Converse ``toolSpec`` or OpenAI ``function``).

The eval uses this to test tools the agent has never seen: each spec becomes a registry ``Tool``
with no examples (the router then matches on its description) and no handler (the eval's transport
answers for it). Every *required* property becomes an id parameter found in the text by regex:
its schema ``pattern`` when it has one, its ``enum`` values, digits for integers, else any token
that holds a digit (how order, customer and ticket ids look). Optional properties are left out:
the agent only fills what it can find and check.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .registry import IdParameter, Tool

# A token with at least one digit: "10015", "CUST-0042", "a1b2c3"; not "my" or "order".
ANY_ID_PATTERN = r"(?=[A-Za-z_-]*[0-9])[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_ANCHORS = re.compile(r"^\^|\$$")


def _unwrap(spec: Any) -> tuple[str, str, Mapping[str, Any]]:
    """(name, description, JSON Schema of the arguments) of either form."""
    if not isinstance(spec, Mapping):
        raise ValueError("a tool spec must be an object")
    if "toolSpec" in spec:  # Bedrock Converse
        body = spec["toolSpec"]
        schema = (body.get("inputSchema") or {}).get("json") if isinstance(body, Mapping) else None
    elif "function" in spec:  # OpenAI chat completions
        body = spec["function"]
        schema = body.get("parameters") if isinstance(body, Mapping) else None
    else:  # a bare {"name", "description", "parameters"}
        body, schema = spec, spec.get("parameters")
    name = body.get("name") if isinstance(body, Mapping) else None
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", name):
        raise ValueError(f"a tool spec needs a name of letters, digits, '_' or '-', not {name!r}")
    description = body.get("description") or name.replace("_", " ")
    if schema is None:
        schema = {"type": "object", "properties": {}}
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties", {}), Mapping):
        raise ValueError(f"tool {name}: the input schema must be a JSON Schema object")
    return name, str(description), schema


def _parameter(name: str, prop: Mapping[str, Any]) -> IdParameter:
    description = str(prop.get("description") or name.replace("_", " "))
    flags = 0
    if isinstance(prop.get("pattern"), str):
        pattern = _ANCHORS.sub("", prop["pattern"])
    elif isinstance(prop.get("enum"), list) and prop["enum"]:
        pattern, flags = "|".join(re.escape(str(v)) for v in prop["enum"]), re.IGNORECASE
    elif prop.get("type") == "integer":
        pattern = r"[0-9]+"
    else:
        pattern = ANY_ID_PATTERN
    try:
        re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"parameter {name}: pattern is not a valid regex: {exc}") from None
    return IdParameter(name=name, wire_name=name, description=description, pattern=pattern, flags=flags,
                       ask_for=f"the {name.replace('_', ' ')}", names_its_tool=pattern != ANY_ID_PATTERN)


def tool_from_spec(spec: Any) -> Tool:
    """A registry Tool from a Converse ``{"toolSpec": ...}``, an OpenAI ``{"type": "function",
    "function": ...}`` or a bare ``{"name", "description", "parameters"}`` spec; ValueError says
    what is wrong with it."""
    name, description, schema = _unwrap(spec)
    properties = schema.get("properties") or {}
    required = [p for p in schema.get("required") or [] if p in properties]
    parameters = tuple(_parameter(p, properties[p] if isinstance(properties[p], Mapping) else {}) for p in required)
    # The noun the router masks ids with: "order" from order_id, else the tool's own name.
    noun = required[0].removesuffix("_id").replace("_", " ") if required else name.replace("_", " ")
    return Tool(name=name, description=description, parameters=parameters, examples=(),
                function_name_env="", local_handler="", noun=noun)
