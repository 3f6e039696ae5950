"""Report exports (services/exports.py): streamed CSV and XLSX with flat memory and every row, formula-safe
cells, and the S3 store's streamed upload with a presigned link (moto)."""

from __future__ import annotations

import csv
import os
import tracemalloc

import pytest

from chalicelib.services import exports

HEADER = ("id", "created", "channel", "contact", "seconds")


def rows(n: int):
    for i in range(n):
        yield [f"c{i:07d}", "2026-12-03 10:00:00", "Telegram", f"Customer {i} «Ёлка»", i % 977]


def peak(path: str, fmt: str, n: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = exports.write_rows(path, fmt, HEADER, rows(n))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_of_100000_rows_keeps_memory_flat_and_has_every_row(tmp_path, fmt):
    small, big = str(tmp_path / f"small.{fmt}"), str(tmp_path / f"big.{fmt}")
    n_small, peak_small = peak(small, fmt, 10_000)
    n_big, peak_big = peak(big, fmt, 100_000)
    assert (n_small, n_big) == (10_000, 100_000)
    assert peak_big < peak_small * 1.5 + 256 * 1024, (peak_small, peak_big)  # ten times the rows, same memory
    assert peak_big < 8 * 1024 * 1024
    if fmt == "csv":
        with open(big, encoding="utf-8-sig", newline="") as fh:
            read = list(csv.reader(fh))
    else:
        from openpyxl import load_workbook

        book = load_workbook(big, read_only=True)
        read = [list(r) for r in book.active.iter_rows(values_only=True)]
        book.close()
    assert len(read) == 100_001 and list(read[0]) == list(HEADER)
    assert read[-1][0] == "c0099999" and read[1][3] == "Customer 0 «Ёлка»"
    assert str(read[500][4]) == str(499 % 977)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cells_that_a_spreadsheet_would_run_as_formulas_are_written_as_text(tmp_path, fmt):
    path = str(tmp_path / f"f.{fmt}")
    exports.write_rows(path, fmt, ("a", "b"), [["=HYPERLINK(\"http://x\")", "+1\x07"], ["-2", "@SUM(A1)"]])
    if fmt == "csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            read = list(csv.reader(fh))[1:]
    else:
        from openpyxl import load_workbook

        read = [list(r) for r in load_workbook(path).active.iter_rows(values_only=True)][1:]
    assert all(str(cell).startswith("'") for row in read for cell in row), read


def test_progress_is_reported_every_n_rows(tmp_path):
    seen: list[int] = []
    exports.write_rows(str(tmp_path / "p.csv"), "csv", HEADER, rows(12_000), seen.append, every=5000)
    assert seen == [5000, 10000]


def test_an_unknown_format_is_refused():
    from chalicelib.errors import InvalidInput

    with pytest.raises(InvalidInput):
        exports.write_rows("/dev/null", "pdf", HEADER, rows(1))


def test_the_s3_store_uploads_an_export_from_disk_and_links_it(tmp_path):
    import boto3
    from moto import mock_aws

    from chalicelib.store.files import S3FileStore

    path = str(tmp_path / "r.csv")
    exports.write_rows(path, "csv", HEADER, rows(2000))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="zabota-files")
        store = S3FileStore("zabota-files", s3)
        store.put_file("exports/w1/x1/report.csv", path, exports.CONTENT_TYPES["csv"])
        data, ctype = store.get("exports/w1/x1/report.csv")
        link = store.link("exports/w1/x1/report.csv", file_name="report.csv")
    assert len(data) == os.path.getsize(path) and ctype.startswith("text/csv")
    assert "Signature=" in link and "report.csv" in link
