"""``python -m endpoint params|deploy``: look up the pinned JumpStart model, or deploy it directly.

``params`` prints ``sam deploy --parameter-overrides`` values for a region. ``deploy`` creates the
endpoint with the sagemaker SDK (then deploy the stack with ``CreateEndpoint=false``). Both need
AWS credentials and network access to JumpStart's metadata; neither is used by the tests.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from . import DEFAULT_INSTANCE_TYPE, MODEL_ENV, MODEL_ID, MODEL_VERSION, PAYLOAD_FORMAT


def _sdk() -> Any:
    try:
        import sagemaker  # noqa: F401
        from sagemaker import image_uris, model_uris
    except ImportError:
        sys.exit("error: this command needs the sagemaker SDK v2: pip install 'lex-llm-agent[endpoint]'")
    return image_uris, model_uris


def lookup(region: str, instance_type: str) -> dict[str, str]:
    """The inference image and model data URIs of the pinned model in ``region``."""
    image_uris, model_uris = _sdk()
    image = image_uris.retrieve(region=region, framework=None, image_scope="inference", model_id=MODEL_ID,
                                model_version=MODEL_VERSION, instance_type=instance_type)
    data = model_uris.retrieve(region=region, model_id=MODEL_ID, model_version=MODEL_VERSION, model_scope="inference")
    return {"ModelImageUri": image, "ModelDataUri": data}


def overrides(values: dict[str, str], instance_type: str) -> str:
    values = {**values, "EndpointInstanceType": instance_type, "SageMakerPayloadFormat": PAYLOAD_FORMAT}
    return " ".join(f'{key}="{value}"' for key, value in values.items())


def cmd_params(args: argparse.Namespace) -> int:
    print(f"# {MODEL_ID} {MODEL_VERSION} in {args.region}, for sam deploy --parameter-overrides", file=sys.stderr)
    print(overrides(lookup(args.region, args.instance_type), args.instance_type))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    _sdk()
    from sagemaker.jumpstart.model import JumpStartModel  # sagemaker SDK v2 (v3 removed it)

    print(f"Deploying {MODEL_ID} {MODEL_VERSION} to endpoint {args.name} on {args.instance_type} "
          "(this takes 10 to 20 minutes)...", file=sys.stderr)
    model = JumpStartModel(model_id=MODEL_ID, model_version=MODEL_VERSION, env=dict(MODEL_ENV), region=args.region,
                           role=args.role)
    model.deploy(initial_instance_count=1, instance_type=args.instance_type, endpoint_name=args.name)
    print(f"Endpoint {args.name} is in service. Deploy the stack with CreateEndpoint=false EndpointName={args.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m endpoint", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    params = commands.add_parser("params", help="print SAM parameter overrides for the model URIs")
    params.add_argument("--region", default="us-east-1")
    params.add_argument("--instance-type", default=DEFAULT_INSTANCE_TYPE)
    params.set_defaults(run=cmd_params)
    deploy = commands.add_parser("deploy", help="deploy the endpoint directly with the sagemaker SDK")
    deploy.add_argument("--name", default="lex-agent-flan-ul2")
    deploy.add_argument("--region", default="us-east-1")
    deploy.add_argument("--instance-type", default=DEFAULT_INSTANCE_TYPE)
    deploy.add_argument("--role", required=True, help="SageMaker execution role ARN")
    deploy.set_defaults(run=cmd_deploy)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
