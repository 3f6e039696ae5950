"""`make package`: the deployable template and the Lambda bundle, without AWS credentials.

1. Stage the app in out/build/app: app.py, chalicelib/ without chalicelib/local/ (embedded mode only) and without
   bytecode caches, .chalice/config.json and an EMPTY requirements.txt, so Chalice never runs pip (it would pick
   x86_64 wheels; the functions run on arm64).
2. `chalice package --pkg-format cloudformation --merge-template infra/resources.yaml` -> out/sam.json and the app
   code zipped by Chalice (with its runtime module `chalice/`); then what the code decides is added
   (`finish_template`: the stream mapping's FilterCriteria).
3. Runtime dependencies (requirements.txt, plus boto3/botocore pinned as in requirements-dev.txt so Lambda runs the
   versions the tests ran) installed for manylinux2014_aarch64 / CPython 3.11 into out/.deps/<key> (cached).
   botocore's and boto3's service data are trimmed to KEEP_SERVICES.
4. out/deployment.zip = app + dependencies, every .py compiled with `--invalidation-mode unchecked-hash` (the zip
   is dated 1980, so timestamp pycs would be ignored and every cold start would compile again), and the code of the
   dataclass methods the app's import generates, precompiled the same way (chalicelib/coldstart.py).
5. out/cfn.json: plain CloudFormation (infra/sam2cfn.py), for cfn-lint and the moto smoke test.
6. out/package.json: what was built, with sizes; a summary is printed.

    python -m infra.package [--out out] [--template-only]
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
MERGE_TEMPLATE = REPO_ROOT / "infra" / "resources.yaml"
RUNTIME_PYTHON = (3, 11)  # Lambda runtime python3.11: the bytecode magic number must match it
RUNTIME_VERSION = "{}.{}".format(*RUNTIME_PYTHON)
PLATFORM = "manylinux2014_aarch64"  # python3.11 runs on Amazon Linux 2 (glibc 2.26): manylinux2014 wheels only
STAGE = "dev"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
APP_EXCLUDE = ("chalicelib/local/",)  # embedded mode only; nothing a handler imports
DEPS_EXCLUDE = ("bin/",)
# AWS services the code calls (tests/infra/test_iam_coverage.py checks every observed call is in this set).
KEEP_SERVICES = frozenset({
    "dynamodb", "dynamodbstreams", "s3", "sts", "sesv2", "ses", "sns", "sqs", "kms", "ssm",
    "apigatewaymanagementapi", "secretsmanager", "lambda",  # lambda: the export hand-off (services/exports.py)
})
SERVICE_DATA_DIRS = ("botocore/data/", "boto3/data/")


@dataclass
class BundleReport:
    files: int = 0
    zip_bytes: int = 0
    unzipped_bytes: int = 0
    pyc_files: int = 0
    py_files: int = 0
    excluded_files: int = 0
    trimmed_service_files: int = 0
    precompiled_dataclass_methods: int = 0  # chalicelib/dataclass_code.marshal (chalicelib/coldstart.py)
    top_level: dict[str, int] = field(default_factory=dict)  # unzipped bytes by top-level name


CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                        "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


def aws_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of `chalice package`: a region, and no way to find credentials (packaging needs none)."""
    env = dict(os.environ if base is None else base)
    for name in CREDENTIAL_VARIABLES:
        env.pop(name, None)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_CONFIG_FILE"] = os.devnull
    return env


# ------------------------------------------------------------------------------------------- 1-2: the template

def stage_app(dest: Path, repo: Path = REPO_ROOT) -> Path:
    """Copy what Chalice packages into `dest` (recreated): the app without embedded-mode code or caches."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(repo / "app.py", dest / "app.py")
    shutil.copytree(repo / "chalicelib", dest / "chalicelib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "local"))
    (dest / ".chalice").mkdir()
    shutil.copy2(repo / ".chalice" / "config.json", dest / ".chalice" / "config.json")
    (dest / "requirements.txt").write_text("")  # dependencies are added in step 3, for arm64
    return dest


def chalice_package(app_dir: Path, out_dir: Path, merge_template: Path = MERGE_TEMPLATE) -> Path:
    """Run `chalice package` in `app_dir`; returns the SAM template (JSON) it wrote into `out_dir`."""
    out_dir = out_dir.resolve()  # chalice runs in app_dir
    if out_dir.exists():
        shutil.rmtree(out_dir)
    command = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())",
               "package", "--pkg-format", "cloudformation", "--template-format", "json", "--stage", STAGE,
               "--merge-template", str(merge_template), str(out_dir)]
    done = subprocess.run(command, cwd=app_dir, env=aws_env(), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"chalice package failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    written = [p for p in (out_dir / "sam.json", out_dir / "sam.yaml") if p.exists()]  # a YAML merge template
    if not written:  # makes Chalice write YAML whatever --template-format says
        raise RuntimeError(f"chalice package wrote no template into {out_dir}")
    return written[0]


def load_template(path: Path) -> dict[str, Any]:
    """Chalice's output, JSON or YAML (long-form intrinsics, plain YAML anchors)."""
    import yaml

    text = path.read_text()
    data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data


def build_template(out_dir: Path, *, repo: Path = REPO_ROOT, merge_template: Path = MERGE_TEMPLATE
                   ) -> tuple[Path, Path]:
    """Steps 1-2 into `out_dir`/build: (the SAM template, Chalice's zip of the app code)."""
    app_dir = stage_app(out_dir / "build" / "app", repo)
    built = chalice_package(app_dir, out_dir / "build" / "chalice", merge_template)
    sam = built.with_name("sam.json")
    finished = finish_template(load_template(built))
    built.unlink()
    sam.write_text(json.dumps(finished, indent=1) + "\n")
    return sam, sam.parent / "deployment.zip"


STREAM_FUNCTION, STREAM_EVENT = "HandleStream", "HandleStreamDynamodbEventSource"  # Chalice's names (app.py)
REST_API = ("RestAPI", "APIHandlerInvokePermission")  # Chalice's REST API and its permission to call APIHandler
REST_API_OUTPUTS = ("EndpointURL", "RestAPIId")


def finish_template(sam: dict[str, Any]) -> dict[str, Any]:
    """What a merge template cannot say: the stream mapping's FilterCriteria, made from the one list of records the
    stream handler needs (chalicelib/services/stream_filter.py; embedded mode's pump filters alike), and no REST
    API: the API function answers through its Function URL behind CloudFront (infra/resources.yaml), so the
    REST API Chalice generates for the routes would only add a second, billed way in."""
    from chalicelib.services import stream_filter

    event = sam["Resources"][STREAM_FUNCTION]["Properties"]["Events"][STREAM_EVENT]
    event["Properties"]["FilterCriteria"] = stream_filter.filter_criteria()
    for name in REST_API:
        sam["Resources"].pop(name, None)
    for name in REST_API_OUTPUTS:
        sam.get("Outputs", {}).pop(name, None)
    left = [name for name in ("RestAPI",) if name in json.dumps(sam)]
    if left:
        raise RuntimeError(f"the template still refers to the removed REST API: {left}")
    return sam


def write_cfn(sam_path: Path, cfn_path: Path) -> dict[str, Any]:
    from infra.sam2cfn import translate

    cfn = translate(json.loads(sam_path.read_text()))
    cfn_path.write_text(json.dumps(cfn, indent=1, sort_keys=True) + "\n")
    return cfn


# ------------------------------------------------------------------------------------------- 3: dependencies

def requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of a requirements file (comments, blank lines and -r/-c lines left out)."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def runtime_requirements(repo: Path = REPO_ROOT) -> list[str]:
    """requirements.txt plus the boto3/botocore pins of requirements-dev.txt (pynamodb alone would float botocore)."""
    pins = [line for line in requirement_lines(repo / "requirements-dev.txt")
            if re.match(r"^(boto3|botocore)==", line)]
    return sorted(set(requirement_lines(repo / "requirements.txt")) | set(pins))


def dependencies_key(requirements: Iterable[str], platform: str = PLATFORM) -> str:
    text = "\n".join([platform, "cp" + RUNTIME_VERSION.replace(".", ""), *sorted(requirements), *sorted(KEEP_SERVICES)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def install_dependencies(requirements: list[str], cache_root: Path, platform: str = PLATFORM) -> Path:
    """The dependencies for `platform` (Lambda's) in `cache_root/<key>` (installed, trimmed and compiled once)."""
    target = cache_root / dependencies_key(requirements, platform)
    if (target / ".complete").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--target", str(tmp), "--platform", platform, "--implementation", "cp",
               "--python-version", RUNTIME_VERSION, "--only-binary=:all:", *requirements]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install the runtime dependencies:\n{done.stdout}\n{done.stderr}")
    trim_service_data(tmp)
    for name in DEPS_EXCLUDE:
        shutil.rmtree(tmp / name, ignore_errors=True)
    compile_tree(tmp)
    tmp.rename(target)
    (target / ".complete").write_text(json.dumps({"requirements": requirements, "platform": platform}))
    return target


def trim_service_data(root: Path, keep: frozenset[str] = KEEP_SERVICES) -> int:
    """Delete the service models of services the code never calls; returns the number of files deleted."""
    removed = 0
    for data_dir in SERVICE_DATA_DIRS:
        base = root / data_dir
        if not base.is_dir():
            continue
        for service in base.iterdir():
            if service.is_dir() and service.name not in keep:
                removed += sum(1 for p in service.rglob("*") if p.is_file())
                shutil.rmtree(service)
    return removed


def compile_tree(root: Path, base: Path | None = None) -> bool:
    """Compile every .py under `root` (a directory or one file) to unchecked-hash pycs in __pycache__.

    File names in the code objects are made relative to `base` (default: `root`), so the bytes do not depend on
    where the bundle was built (Python points them at the real file on import anyway). Needs the runtime's Python:
    the pyc header carries the interpreter's magic number.
    """
    require_runtime_python()
    options = {"quiet": 2, "force": True, "invalidation_mode": py_compile.PycInvalidationMode.UNCHECKED_HASH,
               "stripdir": str(base or (root.parent if root.is_file() else root))}
    if root.is_file():
        return bool(compileall.compile_file(str(root), **options))  # type: ignore[arg-type]
    return bool(compileall.compile_dir(str(root), workers=0, **options))  # type: ignore[arg-type]


def require_runtime_python() -> None:
    if sys.version_info[:2] != RUNTIME_PYTHON:
        here = "{}.{}".format(*sys.version_info[:2])
        raise RuntimeError(f"bytecode for Lambda's python{RUNTIME_VERSION} must be compiled by that Python; "
                           f"this is {here}")


# ------------------------------------------------------------------------------------------- 4: the bundle

def excluded(name: str, patterns: Iterable[str]) -> bool:
    return any(name.startswith(p) for p in patterns) or "/__pycache__/" in f"/{name}" or name.endswith(".pyc")


def assemble(app_zip: Path, deps_dir: Path | None, bundle_dir: Path) -> tuple[set[str], int]:
    """Unpack the app zip (minus APP_EXCLUDE) and copy the dependencies into `bundle_dir`.

    Returns the top-level names of the app code and the number of files left out.
    """
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)
    bundle_dir.mkdir(parents=True)
    left_out = 0
    app_names: set[str] = set()
    with zipfile.ZipFile(app_zip) as source:
        for info in source.infolist():
            if info.is_dir():
                continue
            if excluded(info.filename, APP_EXCLUDE):
                left_out += 1
                continue
            path = bundle_dir / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read(info))
            app_names.add(info.filename.split("/", 1)[0])
    if deps_dir is not None:
        for path in sorted(deps_dir.rglob("*")):
            rel = path.relative_to(deps_dir).as_posix()
            if path.is_dir() or rel == ".complete":
                continue
            dest = bundle_dir / rel
            if dest.exists():
                raise RuntimeError(f"{rel} is both app code and a dependency")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    return app_names, left_out


def bundle_files(bundle_dir: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(bundle_dir.rglob("*")):
        if path.is_file():
            yield path.relative_to(bundle_dir).as_posix(), path


def write_zip(bundle_dir: Path, dest: Path) -> BundleReport:
    """A reproducible zip of `bundle_dir`: sorted entries, one date, mode 0644."""
    report = BundleReport()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name, path in bundle_files(bundle_dir):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            out.writestr(info, data)
            report.files += 1
            report.unzipped_bytes += len(data)
            top = name.split("/", 1)[0]
            report.top_level[top] = report.top_level.get(top, 0) + len(data)
            report.pyc_files += name.endswith(".pyc")
            report.py_files += name.endswith(".py")
    tmp.replace(dest)
    report.zip_bytes = dest.stat().st_size
    report.top_level = dict(sorted(report.top_level.items(), key=lambda kv: -kv[1]))
    return report


def build_bundle(app_zip: Path, deps_dir: Path | None, out_dir: Path) -> BundleReport:
    """Step 4: out_dir/deployment.zip from Chalice's app zip and the dependency directory."""
    bundle_dir = out_dir / "build" / "bundle"
    app_names, left_out = assemble(app_zip, deps_dir, bundle_dir)
    for name in sorted(app_names):  # the app code; the dependencies were compiled once, in their cache
        compile_tree(bundle_dir / name, bundle_dir)
    methods = precompile_dataclasses(bundle_dir)
    report = write_zip(bundle_dir, out_dir / "deployment.zip")
    report.excluded_files = left_out
    report.precompiled_dataclass_methods = methods
    return report


PRECOMPILE_MODULES = ("app",)  # every handler of the template is app.<name>


def precompile_dataclasses(bundle_dir: Path, modules: tuple[str, ...] = PRECOMPILE_MODULES, *,
                           python_path: tuple[Path, ...] = ()) -> int:
    """chalicelib/dataclass_code.marshal in the bundle: the app imported from the bundle alone (`-S`, no site
    packages; `python_path` only for tests of an app without its dependencies) by the runtime's Python, recording
    the code of each dataclass method it generates. Returns how many; 0 for an app without chalicelib/coldstart.py."""
    if not (bundle_dir / "chalicelib" / "coldstart.py").is_file():
        return 0
    require_runtime_python()
    target = bundle_dir / "chalicelib" / "dataclass_code.marshal"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true", "LANG": "C.UTF-8"}
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in python_path)
    done = subprocess.run([sys.executable, "-S", "-m", "chalicelib.coldstart", str(target), *modules],
                          cwd=bundle_dir, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"importing the app from the bundle failed:\n{done.stdout}\n{done.stderr}")
    return int(done.stdout.split()[-1])


# ------------------------------------------------------------------------------------------- all of it

def package(out_dir: Path, *, template_only: bool = False, repo: Path = REPO_ROOT, platform: str = PLATFORM
            ) -> dict[str, Any]:
    """Steps 1-6 into `out_dir`; `platform` other than Lambda's only for measuring imports on this machine."""
    started = time.monotonic()
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    sam_built, app_zip = build_template(out_dir, repo=repo)
    sam = load_template(sam_built)
    (out_dir / "sam.json").write_text(json.dumps(sam, indent=1) + "\n")
    cfn = write_cfn(out_dir / "sam.json", out_dir / "cfn.json")
    summary: dict[str, Any] = {
        "template": {"sam_resources": len(sam["Resources"]), "cfn_resources": len(cfn["Resources"]),
                     "cfn_bytes": (out_dir / "cfn.json").stat().st_size},
    }
    if not template_only:
        requirements = runtime_requirements(repo)
        deps = install_dependencies(requirements, out_dir / ".deps", platform)
        report = build_bundle(app_zip, deps, out_dir)
        summary["bundle"] = {**asdict(report), "requirements": requirements, "platform": platform,
                             "python": RUNTIME_VERSION, "kept_services": sorted(KEEP_SERVICES)}
    summary["seconds"] = round(time.monotonic() - started, 1)
    (out_dir / "package.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def describe(summary: dict[str, Any], out_dir: Path) -> str:
    lines = [f"{out_dir}/sam.json: {summary['template']['sam_resources']} resources (SAM), "
             f"cfn.json: {summary['template']['cfn_resources']} resources"]
    bundle = summary.get("bundle")
    if bundle:
        biggest = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in list(bundle["top_level"].items())[:5])
        lines.append(f"{out_dir}/deployment.zip: {bundle['zip_bytes'] / 1e6:.1f} MB zipped, "
                     f"{bundle['unzipped_bytes'] / 1e6:.1f} MB unzipped, {bundle['files']} files "
                     f"({bundle['pyc_files']} pyc, {bundle['precompiled_dataclass_methods']} precompiled dataclass "
                     f"methods), {bundle['platform']}; largest: {biggest}")
    lines.append(f"done in {summary['seconds']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out")
    parser.add_argument("--template-only", action="store_true", help="skip the dependencies and the bundle")
    args = parser.parse_args(argv)
    try:
        summary = package(args.out, template_only=args.template_only)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(describe(summary, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
