"""Read template.yaml with its short-form intrinsics (!Ref, !GetAtt, !Sub, ...) as plain data."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):  # the two short forms whose long form has no "Fn::"
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def branches(value: Any) -> list[Any]:
    """What a value can deploy as: both sides of an Fn::If (nested ones too), AWS::NoValue dropped."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, yes, no = value["Fn::If"]
        return branches(yes) + branches(no)
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def iam_statements(template: dict[str, Any]):
    """(resource name, statement) for every IAM statement the template can grant, conditional ones included."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            policies = props.get("Policies", [])
            for policy in policies:
                assert isinstance(policy, dict) and "Statement" in policy, f"{name}: only inline statements allowed"
            statements = [s for policy in policies for s in policy["Statement"]]
        elif resource["Type"] == "AWS::IAM::Role":
            statements = [s for policy in props.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
        elif resource["Type"] == "AWS::Lex::ResourcePolicy":
            statements = props["Policy"]["Statement"]
        else:
            continue
        for statement in statements:
            for branch in branches(statement):
                yield name, branch
