"""A workspace: the environment settings, the validated configuration and the way to the lake.

The command line, the Prefect tasks and the tests all start here, so they resolve the
configuration file and the home folder the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from driftguard.config import Config, Settings, load_config
from driftguard.store import Lake

HOME_MARKER = ".driftguard-home"


def resolve_config_path(settings: Settings, explicit: str | Path | None = None) -> Path:
    """``explicit``, else $DRIFTGUARD_CONFIG / ./driftguard.yaml if present, else <home>/..."""
    if explicit:
        return Path(explicit)
    if settings.config_path.exists() or settings.config_path != Path("driftguard.yaml"):
        return settings.config_path
    return settings.home / "driftguard.yaml"


def mark_home(home: Path) -> None:
    """Create the home folder with a marker, so `demo --fresh` only ever wipes a DriftGuard home."""
    home.mkdir(parents=True, exist_ok=True)
    (home / HOME_MARKER).touch()


@dataclass(frozen=True)
class Workspace:
    settings: Settings
    config: Config
    config_path: Path

    @classmethod
    def load(
        cls, config_path: str | Path | None = None, home: str | Path | None = None
    ) -> Workspace:
        settings = Settings.from_env(home=Path(home) if home else None)
        path = resolve_config_path(settings, config_path)
        return cls(settings=settings, config=load_config(path), config_path=path)

    @property
    def base(self) -> Path:
        """Folder that relative source paths in the configuration are relative to."""
        return self.config_path.resolve().parent

    def open_lake(self) -> Lake:
        mark_home(self.settings.home)
        return Lake.open(self.settings, self.config.lake)
