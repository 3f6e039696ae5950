"""Fixtures of the deployment tests: the template built once per session, offline, as `make package` builds it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Built:
    """`chalice package` output (SAM), its plain-CloudFormation translation and the staged app directory."""

    out: Path
    sam: dict[str, Any]
    cfn: dict[str, Any]
    app_dir: Path
    app_zip: Path

    def resource(self, logical_id: str) -> dict[str, Any]:
        return dict(self.cfn["Resources"][logical_id])

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.cfn["Resources"].items() if res["Type"] == kind}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from infra import package

    out = tmp_path_factory.mktemp("package")
    sam_path, app_zip = package.build_template(out)
    sam = package.load_template(sam_path)
    (out / "sam.json").write_text(json.dumps(sam))
    cfn = package.write_cfn(out / "sam.json", out / "cfn.json")
    return Built(out, sam, cfn, out / "build" / "app", app_zip)
