"""The Lambda bundle: app code without embedded mode, bytecode Lambda actually uses, trimmed service data, and a
reproducible zip. Built here from small inputs (the real dependencies need the package registry: `make package`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from infra import package


def app_zip(path: Path) -> Path:
    """A zip shaped like Chalice's: the app, chalicelib (with embedded-mode code and stale caches), chalice/."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.py", "from chalicelib import answer\nVALUE = answer.VALUE\n")
        archive.writestr("chalicelib/__init__.py", "")
        archive.writestr("chalicelib/answer.py", "VALUE = 'from source'\n")
        archive.writestr("chalicelib/local/__init__.py", "raise ImportError('embedded mode only')\n")
        archive.writestr("chalicelib/__pycache__/answer.cpython-311.pyc", b"stale")
        archive.writestr("chalice/__init__.py", "")
    return path


def dependencies(root: Path) -> Path:
    (root / "dep").mkdir(parents=True)
    (root / "dep" / "__init__.py").write_text("NAME = 'dep'\n")
    for service in ("dynamodb", "ec2", "sesv2"):
        (root / "botocore" / "data" / service / "2012-08-10").mkdir(parents=True)
        (root / "botocore" / "data" / service / "2012-08-10" / "service-2.json.gz").write_bytes(b"model")
    (root / "botocore" / "data" / "endpoints.json").write_text("{}")
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_text("#!/bin/sh\n")
    return root


def build(tmp_path: Path, name: str = "out") -> tuple[Path, package.BundleReport]:
    deps = dependencies(tmp_path / f"{name}-deps")
    package.trim_service_data(deps)
    package.compile_tree(deps)
    out = tmp_path / name
    report = package.build_bundle(app_zip(tmp_path / f"{name}-app.zip"), deps, out)
    return out / "deployment.zip", report


def test_the_bundle_leaves_out_embedded_mode_and_stale_caches_and_compiles_everything(tmp_path):
    bundle, report = build(tmp_path)
    names = set(zipfile.ZipFile(bundle).namelist())
    assert not any(n.startswith("chalicelib/local/") for n in names)
    assert "chalicelib/__pycache__/answer.cpython-311.pyc" in names  # ours, not the stale one
    assert zipfile.ZipFile(bundle).read("chalicelib/__pycache__/answer.cpython-311.pyc") != b"stale"
    for source in [n for n in names if n.endswith(".py")]:
        folder, _, file = source.rpartition("/")
        cached = f"{folder}/__pycache__/{file[:-3]}.cpython-311.pyc".lstrip("/")
        assert cached in names, source
    assert report.excluded_files == 2 and report.pyc_files == report.py_files == 5


def test_the_bytecode_is_used_as_is_after_unzipping_with_1980_dates(tmp_path):
    bundle, _ = build(tmp_path)
    task = tmp_path / "var-task"
    with zipfile.ZipFile(bundle) as archive:
        assert {i.date_time for i in archive.infolist()} == {package.ZIP_DATE}
        archive.extractall(task)
    source = task / "chalicelib" / "answer.py"
    source.write_text("VALUE = 'recompiled from source'\n")  # an unchecked-hash pyc never looks at the source
    os.utime(source, (315532800, 315532800))
    code = "import sys; sys.path.insert(0, sys.argv[1]); import app; print(app.VALUE)"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-S", "-c", code, str(task)], capture_output=True, text=True, env=env,
                          timeout=60, check=True)
    assert done.stdout.strip() == "from source"


def test_the_zip_is_reproducible(tmp_path):
    first, _ = build(tmp_path, "one")
    second, _ = build(tmp_path, "two")
    assert first.read_bytes() == second.read_bytes()


def test_service_models_are_trimmed_to_the_services_the_code_calls(tmp_path):
    bundle, report = build(tmp_path)
    names = set(zipfile.ZipFile(bundle).namelist())
    assert "botocore/data/dynamodb/2012-08-10/service-2.json.gz" in names
    assert "botocore/data/sesv2/2012-08-10/service-2.json.gz" in names
    assert not any(n.startswith("botocore/data/ec2/") for n in names)
    assert "botocore/data/endpoints.json" in names
    assert report.top_level["botocore"] > 0


def test_console_scripts_of_dependencies_stay_out(tmp_path):
    deps = dependencies(tmp_path / "deps")
    requirements = ["dep==1"]
    target = tmp_path / "cache" / package.dependencies_key(requirements)
    target.parent.mkdir()
    deps.rename(target)
    (target / ".complete").write_text("{}")
    assert package.install_dependencies(requirements, tmp_path / "cache") == target  # cached: pip is not run
    bundle = package.build_bundle(app_zip(tmp_path / "app.zip"), target, tmp_path / "out")
    assert bundle.files > 0
    names = zipfile.ZipFile(tmp_path / "out" / "deployment.zip").namelist()
    assert ".complete" not in names


def test_runtime_requirements_pin_boto3_and_botocore_as_the_tests_run_them():
    requirements = package.runtime_requirements()
    dev = package.requirement_lines(package.REPO_ROOT / "requirements-dev.txt")
    for name in ("boto3", "botocore"):
        (pin,) = [r for r in requirements if r.startswith(f"{name}==")]
        assert pin in dev
    assert set(package.requirement_lines(package.REPO_ROOT / "requirements.txt")) <= set(requirements)
    assert not any(r.startswith(("chalice", "moto", "pytest", "cfn-lint")) for r in requirements)


def test_every_handler_in_the_template_imports_from_the_staged_app_without_embedded_mode(built):
    assert not (built.app_dir / "chalicelib" / "local").exists()
    handlers = sorted({res["Properties"]["Handler"] for res in built.sam["Resources"].values()
                       if res["Type"] == "AWS::Serverless::Function"})
    code = ("import importlib, json, sys\n"
            "found = {}\n"
            "for handler in sys.argv[1:]:\n"
            "    module, _, name = handler.rpartition('.')\n"
            "    found[handler] = callable(getattr(importlib.import_module(module), name))\n"
            "found['local'] = any(m.startswith('chalicelib.local') for m in sys.modules)\n"
            "print(json.dumps(found))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code, *handlers], cwd=built.app_dir, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found.pop("local") is False
    assert found == {handler: True for handler in handlers} and len(handlers) == 8


def test_the_app_s_dataclass_methods_come_precompiled_and_none_is_compiled_on_a_cold_import(built, tmp_path):
    import shutil
    import site

    app_dir = tmp_path / "task"
    shutil.copytree(built.app_dir, app_dir)
    python_path = tuple(Path(p) for p in site.getsitepackages())  # the app's dependencies, as in the bundle
    methods = package.precompile_dataclasses(app_dir, python_path=python_path)
    assert methods > 100 and (app_dir / "chalicelib" / "dataclass_code.marshal").is_file()
    code = ("import json, sys, dataclasses\n"
            "import app\n"
            "from chalicelib import coldstart\n"
            "import gc\n"
            "print(json.dumps({**coldstart.STATS, 'patched': 'exec' in vars(dataclasses), 'gc': gc.get_threshold(),\n"
            "                  'frozen': gc.get_freeze_count()}))\n")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(map(str, python_path)),
           "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=app_dir, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert stats["patched"] and stats["compiled"] == 0
    assert stats["gc"] == [700, 10, 10] and stats["frozen"] > 10_000  # app.py's last line: collector as usual
    assert stats["precompiled"] >= methods  # classes of the same shape share a text
