"""Recalculate a workbook with headless LibreOffice and read the values back.

A throwaway LibreOffice profile sets "always recalculate on load" for OOXML files, so
formulas are computed by LibreOffice itself even when the file holds cached values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str:
    """Path of soffice; skip outside CI when LibreOffice is absent, fail under CI."""
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("CI must have LibreOffice (soffice); .ci/run installs libreoffice-calc-nogui")
    pytest.skip("LibreOffice (soffice) is not installed")


def recalculate(workbook: Path) -> Path:
    """Recalculate ``workbook`` with LibreOffice; return the path of the recalculated copy."""
    return _convert(workbook, "xlsx")


def print_to_pdf(workbook: Path) -> Path:
    """Print ``workbook`` to PDF with LibreOffice (its print settings; formulas recalculated first)."""
    return _convert(workbook, "pdf")


def pdf_pages(pdf: Path) -> tuple[int, list[str]]:
    """(page count, text of each page) of a PDF, with poppler's pdfinfo and pdftotext."""
    for tool in ("pdfinfo", "pdftotext"):
        if not shutil.which(tool):
            if os.environ.get("CI"):
                pytest.fail(f"CI must have {tool} (poppler-utils)")
            pytest.skip(f"{tool} (poppler-utils) is not installed")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True, timeout=60).stdout
    pages = int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60).stdout
    return pages, text.split("\f")[:pages]


def _convert(workbook: Path, kind: str) -> Path:
    binary = soffice()
    work = Path(tempfile.mkdtemp(prefix="lo-"))
    profile = work / "profile" / "user"
    profile.mkdir(parents=True)
    (profile / "registrymodifications.xcu").write_text(PROFILE)
    out = work / "out"
    subprocess.run(
        [
            binary,
            f"-env:UserInstallation=file://{work / 'profile'}",
            "--headless",
            "--norestore",
            "--convert-to",
            kind,
            "--outdir",
            str(out),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    result = out / f"{workbook.stem}.{kind}"
    assert result.is_file(), f"LibreOffice wrote nothing for {workbook}"
    return result
