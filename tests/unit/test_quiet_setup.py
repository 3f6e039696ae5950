"""`make setup` steps run through scripts/quietly (issue 17): one line when a step works, its whole output when
it fails, so installer warnings never bury what `make run` prints."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
QUIETLY = str(REPO_ROOT / "scripts" / "quietly")


def run(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUIETLY, "Installing things", str(tmp_path / "logs" / "step.log"), "--", "bash", "-c",
                           script], capture_output=True, text=True, timeout=30)


def test_a_step_that_works_prints_one_line_and_keeps_its_noise_in_the_log(tmp_path):
    done = run(tmp_path, "for i in $(seq 100); do echo 'WARNING: Location ignored' >&2; done; echo installed")
    assert done.returncode == 0
    assert done.stdout == "Installing things... done\n" and done.stderr == ""
    log = (tmp_path / "logs" / "step.log").read_text()
    assert log.count("WARNING") == 100 and "installed" in log


def test_a_step_that_fails_shows_everything_it_printed_and_fails_with_its_status(tmp_path):
    failed = run(tmp_path, "echo 'ERROR: No matching distribution for chalice' >&2; exit 3")
    assert failed.returncode == 3
    assert failed.stdout.startswith("Installing things... FAILED (exit 3)")
    assert "ERROR: No matching distribution for chalice" in failed.stdout


def test_every_set_up_step_of_the_makefile_goes_through_it():
    recipes = (REPO_ROOT / "Makefile").read_text().replace("\\\n", " ").splitlines()
    for step in ("-m venv", "pip install", "npm ci", "npm run --silent build"):
        (line,) = [line for line in recipes if step in line]
        assert "$(QUIETLY)" in line, line
