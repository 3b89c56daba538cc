"""Jinja2 templates and CSS of DriftGuard's HTML reports and e-mails.

A package (not a loose folder) so that the templates travel with an installed DriftGuard:
``pyproject.toml`` lists ``reports`` next to ``driftguard`` and ships ``templates/`` and
``css/`` as package data, and a source checkout finds the same files here.
:func:`driftguard.report.render.assets_root` checks :data:`DRIFTGUARD_ASSETS` so an
unrelated package that happens to be called ``reports`` is never mistaken for this one.
"""

from pathlib import Path

#: Marker checked by the renderer.
DRIFTGUARD_ASSETS = 1
ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"
CSS = ROOT / "css"
