"""Rendering plumbing: templates found and shipped, autoescape on, code spans safe."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import jinja2

from driftguard.report.render import assets_root, codespans, environment

ROOT = Path(__file__).resolve().parents[3]


def test_autoescape_is_on_for_html_and_off_for_text():
    env = environment()
    html = env.from_string("{{ x }}")  # templates from strings count as HTML
    assert html.render(x="<b>&") == "&lt;b&gt;&amp;"
    assert env.get_template("email.html").environment.autoescape("email.html") is True
    assert env.autoescape("email.txt") is False
    assert isinstance(env.undefined(), jinja2.StrictUndefined)


def test_code_spans_are_escaped_before_they_become_code():
    assert str(codespans("run `driftguard explain r1` now")) == (
        "run <code>driftguard explain r1</code> now"
    )
    assert str(codespans("`<script>`")) == "<code>&lt;script&gt;</code>"  # escaped first
    assert str(codespans("a <b> & `c`")) == "a &lt;b&gt; &amp; <code>c</code>"


def test_every_template_and_stylesheet_is_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    assert "reports*" in setuptools["packages"]["find"]["include"]
    globs = setuptools["package-data"]["reports"]
    files = [
        p.relative_to(ROOT / "reports").as_posix()
        for p in (ROOT / "reports").rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    ]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), files
    assert assets_root() == ROOT / "reports"
