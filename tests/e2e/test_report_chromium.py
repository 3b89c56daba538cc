"""The reports in a real browser: headless Chromium (Debian package ``chromium``) renders them
to PNG without a single console message (no script error, no blocked fetch, no CSP
violation). `make e2e` installs Chromium first (scripts/ensure-system-packages)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from driftguard.report import render_fleet_report, render_run_report

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check-report"
PNG = b"\x89PNG\r\n\x1a\n"

if not (shutil.which("chromium") or shutil.which("chromium-browser")):
    pytest.skip(
        "Chromium is not installed: run `scripts/ensure-system-packages chromium` as root "
        "(make e2e does)",
        allow_module_level=True,
    )


def check(report: Path, out: Path, size: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK), str(report), str(out), size], capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def reports(report_world):
    ws = report_world.ws
    with ws.open_lake() as lake:
        return {
            "credit": render_run_report(lake, ws.config, ws.settings, report_world.credit_run).path,
            "xss": render_run_report(lake, ws.config, ws.settings, report_world.xss_run).path,
            "fleet": render_fleet_report(lake, ws.config, ws.settings, report_world.runs).path,
            "index": ws.settings.home / "reports" / "index.html",
        }


@pytest.mark.parametrize("name", ["credit", "xss", "fleet", "index"])
@pytest.mark.parametrize("size", ["1280,2400", "390,2400"])  # desktop and phone widths
def test_chromium_renders_the_report_without_console_messages(reports, name, size, tmp_path):
    out = tmp_path / f"{name}-{size.split(',')[0]}.png"
    result = check(reports[name], out, size)
    assert result.returncode == 0, result.stdout + result.stderr
    data = out.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000  # a blank page compresses to ~10 kB


def test_the_checker_catches_console_messages(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src '
        '\'none\'"><p>x</p><img src="http://example.invalid/a.png">',
        encoding="utf-8",
    )
    result = check(page, tmp_path / "bad.png", "400,300")
    assert result.returncode == 1 and "Content Security Policy" in result.stderr
