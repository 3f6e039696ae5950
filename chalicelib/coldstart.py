"""Cold start: the methods `@dataclass` generates come precompiled in the Lambda bundle.

`@dataclass` writes the source of each class's `__init__`, `__repr__`, `__eq__` (and `__setattr__` /
`__delattr__` / `__hash__` when frozen) and compiles it when the class is created: about 0.5 ms per class, over
1 ms when frozen, some 40 ms of a handler's cold import for the ~46 classes on its path (measured on the packaged
bundle: bench/deploy_bench.py). Compiling is not needed on a cold start: `make package` (infra/package.py) imports
the app once with the runtime's Python and keeps the code compiled for each generated source text
(`chalicelib/dataclass_code.marshal`: marshal, the format of .pyc files, so tied to the interpreter's bytecode
magic number like them). `install()`, run first thing by `chalicelib/__init__.py`, makes the `dataclasses` module
take the code from that file: the same source text gives the same code object, so every class is exactly what
compiling would make. A text not in the file (a class added after packaging, a library's class) is compiled as
usual, and without the file (embedded mode, tests, a bundle of another Python) nothing changes at all.

In the bundle, `install()` also holds the cyclic garbage collector back while the app is imported (a cold import
only allocates what lives as long as the process; the collections it would trigger scan boto3's, botocore's and
our objects again and again: some 10 ms), and `ready()` (the last line of app.py) gives the collector its
thresholds back after moving everything imported so far out of its sight (`gc.freeze()`), so the collections of
warm invocations do not scan it either.
"""

from __future__ import annotations

import builtins
import gc
import marshal
import os
import sys
from typing import Any

FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dataclass_code.marshal")
STATS = {"precompiled": 0, "compiled": 0}  # dataclass methods taken from the file / compiled here since install()
IMPORT_GC_THRESHOLD = 200_000  # allocations between collections while the app is imported (the default is 700)
_thresholds: tuple[int, ...] | None = None  # the collector's own, while held back


def _magic() -> bytes:
    from importlib.util import MAGIC_NUMBER

    return MAGIC_NUMBER


def install(path: str = FILE) -> int:
    """Use the precompiled code in `path`, if it is there and of this interpreter; returns how many texts it has."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return 0
    magic, codes = marshal.loads(data)
    if magic != _magic():
        return 0
    import dataclasses

    def exec_precompiled(source: Any, globals: Any = None, locals: Any = None) -> None:
        code = codes.get(source) if isinstance(source, str) else None
        STATS["compiled" if code is None else "precompiled"] += 1
        builtins.exec(source if code is None else code, globals, locals)

    # `dataclasses._create_fn` calls the name `exec`; a module global shadows the builtin for that module only
    dataclasses.exec = exec_precompiled  # type: ignore[attr-defined]
    global _thresholds
    if _thresholds is None:
        _thresholds = gc.get_threshold()
        gc.set_threshold(IMPORT_GC_THRESHOLD, *_thresholds[1:])
    return len(codes)


def ready() -> None:
    """The app is imported: freeze what it made (never collected, never scanned again) and collect as usual."""
    global _thresholds
    if _thresholds is not None:
        gc.freeze()
        gc.set_threshold(*_thresholds)
        _thresholds = None


def record(modules: list[str], path: str = FILE) -> int:
    """Import `modules` (in this fresh interpreter) and write the code of every dataclass method they generated."""
    import dataclasses

    codes: dict[str, Any] = {}

    def exec_recording(source: Any, globals: Any = None, locals: Any = None) -> None:
        if isinstance(source, str):
            code = codes.get(source) or compile(source, "<string>", "exec")
            codes[source] = code
            source = code
        builtins.exec(source, globals, locals)

    dataclasses.exec = exec_recording  # type: ignore[attr-defined]
    try:
        for name in modules:
            __import__(name)
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
    with open(path, "wb") as fh:
        fh.write(marshal.dumps((_magic(), codes)))
    return len(codes)


if __name__ == "__main__":  # python -m chalicelib.coldstart OUT MODULE... (infra/package.py, in the bundle)
    print(record(sys.argv[2:], sys.argv[1]))
