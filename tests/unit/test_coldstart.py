"""Precompiled dataclass methods (chalicelib/coldstart.py): the file's code is what runs, classes behave as
compiled, and anything the file does not hold (or a file of another interpreter) is compiled as usual."""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
import textwrap
from pathlib import Path

from chalicelib import coldstart

MODULE = textwrap.dedent('''
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Point:
        x: int
        y: int = 0
        tags: tuple[str, ...] = ()

    @dataclass
    class Bag:
        name: str
        items: list[str] = field(default_factory=list)
''')

CHECK = textwrap.dedent('''
    import dataclasses, json, sys
    sys.path.insert(0, sys.argv[1])
    from chalicelib import coldstart
    installed = coldstart.install(sys.argv[2])
    import shapes
    p, q = shapes.Point(1), shapes.Point(1, 0)
    try:
        p.x = 2
        frozen = False
    except dataclasses.FrozenInstanceError:
        frozen = True
    bag = shapes.Bag("b")
    bag.items.append("x")
    print(json.dumps({"installed": installed, "repr": repr(p), "eq": p == q, "hash": hash(p) == hash(q),
                      "frozen": frozen, "fresh_list": shapes.Bag("c").items == [], "stats": coldstart.STATS}))
''')


def run(tmp_path: Path, code: str, *args: str) -> dict:
    repo = Path(coldstart.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=True,
                          cwd=repo)
    return json.loads(done.stdout.strip().splitlines()[-1])


def recorded(tmp_path: Path) -> Path:
    (tmp_path / "shapes.py").write_text(MODULE)
    target = tmp_path / "code.marshal"
    repo = Path(coldstart.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "chalicelib.coldstart", str(target), "shapes"], cwd=repo,
                          env={"PYTHONPATH": f"{tmp_path}:{repo}"}, capture_output=True, text=True, timeout=60,
                          check=True)
    assert int(done.stdout.split()[-1]) >= 7  # init, repr, eq, setattr, delattr, hash; init, repr, eq
    return target


def test_classes_built_from_the_precompiled_code_behave_as_compiled_ones(tmp_path):
    target = recorded(tmp_path)
    without = run(tmp_path, CHECK, str(tmp_path), str(tmp_path / "absent.marshal"))
    with_file = run(tmp_path, CHECK, str(tmp_path), str(target))
    assert without["installed"] == 0 and with_file["installed"] >= 7
    assert {k: v for k, v in with_file.items() if k not in ("installed", "stats")} == {
        k: v for k, v in without.items() if k not in ("installed", "stats")}
    assert with_file["repr"] == "Point(x=1, y=0, tags=())" and with_file["frozen"] and with_file["eq"]
    assert with_file["stats"]["compiled"] == 0 and with_file["stats"]["precompiled"] >= 7


def test_the_file_s_code_is_what_runs(tmp_path):
    target = recorded(tmp_path)
    magic, codes = marshal.loads(target.read_bytes())
    (repr_source,) = [s for s in codes if "def __repr__" in s and "x={self.x!r}" in s]
    forged = compile(repr_source.replace("return", "return 'from the file' or", 1), "<string>", "exec")
    target.write_bytes(marshal.dumps((magic, {**codes, repr_source: forged})))
    assert run(tmp_path, CHECK, str(tmp_path), str(target))["repr"] == "from the file"


def test_a_file_of_another_interpreter_or_a_new_class_is_compiled_as_usual(tmp_path):
    target = recorded(tmp_path)
    magic, codes = marshal.loads(target.read_bytes())
    other = tmp_path / "other.marshal"
    other.write_bytes(marshal.dumps((b"\x00\x00\r\n", codes)))
    assert run(tmp_path, CHECK, str(tmp_path), str(other))["installed"] == 0
    (tmp_path / "shapes.py").write_text(MODULE + "\n\n@dataclass\nclass Extra:\n    z: int = 1\n")
    changed = run(tmp_path, CHECK, str(tmp_path), str(target))
    assert changed["repr"] == "Point(x=1, y=0, tags=())"
    assert changed["stats"]["compiled"] >= 3 and changed["stats"]["precompiled"] >= 7


def test_without_the_file_nothing_is_patched():
    import dataclasses

    assert not Path(coldstart.FILE).exists()  # the repository has none: only `make package` writes it
    assert "exec" not in vars(dataclasses)


GC_CHECK = textwrap.dedent('''
    import gc, json, sys
    from chalicelib import coldstart
    before = gc.get_threshold()
    coldstart.install(sys.argv[1])
    during = gc.get_threshold()
    coldstart.ready()
    print(json.dumps({"before": before, "during": during, "after": gc.get_threshold(),
                      "frozen": gc.get_freeze_count()}))
''')


def test_the_collector_is_held_back_during_the_cold_import_only_in_the_bundle(tmp_path):
    target = recorded(tmp_path)
    bundle = run(tmp_path, GC_CHECK, str(target))
    assert bundle["during"][0] == coldstart.IMPORT_GC_THRESHOLD and bundle["after"] == bundle["before"]
    assert bundle["frozen"] > 1000  # what the import made is out of the collector's sight
    elsewhere = run(tmp_path, GC_CHECK, str(tmp_path / "absent.marshal"))
    assert elsewhere["during"] == elsewhere["before"] == elsewhere["after"] and elsewhere["frozen"] == 0
