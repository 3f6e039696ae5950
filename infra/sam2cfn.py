"""Translate Chalice's SAM template into plain CloudFormation, offline, with aws-sam-translator.

Why: cfn-lint is stricter on plain CloudFormation (it misses bad event-source properties on SAM, see
DEPLOY-NOTES §3), and moto's CloudFormation cannot expand the SAM transform. The translator needs a region (for
ARNs) but no credentials; managed-policy names would need IAM, and we use none (every role is ours).

    python -m infra.sam2cfn out/sam.json out/cfn.json
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_CODE_URI = "s3://zabota-artifacts/deployment.zip"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"


def translate(sam: dict[str, Any], *, code_uri: str = DEFAULT_CODE_URI, region: str = "us-east-1",
              parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SAM template as plain CloudFormation; every function's code points at `code_uri` (an s3:// URI)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = with_code_uri(sam, code_uri)
    session = boto3.session.Session(region_name=region, aws_access_key_id="offline", aws_secret_access_key="offline")
    translator = Translator(None, Parser(), boto_session=session)
    result: dict[str, Any] = translator.translate(template, parameter_values=dict(parameters or {}),
                                                  get_managed_policy_map=dict)
    return result


def with_code_uri(sam: dict[str, Any], code_uri: str) -> dict[str, Any]:
    """A copy of the template whose functions' CodeUri is `code_uri` (the translator refuses local paths)."""
    template = copy.deepcopy(sam)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == SERVERLESS_FUNCTION:
            resource.setdefault("Properties", {})["CodeUri"] = code_uri
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.sam2cfn", description=__doc__.splitlines()[0])
    parser.add_argument("sam", type=Path, help="Chalice's SAM template (JSON)")
    parser.add_argument("cfn", type=Path, help="where to write the CloudFormation template (JSON)")
    parser.add_argument("--code-uri", default=DEFAULT_CODE_URI)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    cfn = translate(json.loads(args.sam.read_text()), code_uri=args.code_uri, region=args.region)
    args.cfn.write_text(json.dumps(cfn, indent=1, sort_keys=True) + "\n")
    print(f"{args.cfn}: {len(cfn.get('Resources', {}))} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
