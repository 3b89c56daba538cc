"""Real servers on 127.0.0.1 for the scale-out tests: PostgreSQL (Debian package) and moto's
S3-compatible server. Each runs from a throw-away folder and stops when the test session ends.

PostgreSQL is started the way a person would on a laptop: ``initdb`` into an empty folder
(as the ``postgres`` user when running as root, because initdb refuses root), then
``pg_ctl start`` listening on loopback only, on a free port, with durability switched off
(fsync) since the data is thrown away. ``scripts/ensure-system-packages`` installs the server
when it is missing; :func:`postgres_binaries` says why a test cannot run when it is absent.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.smtp_sink import free_port

S3_KEY_ID = "driftguard-test"
S3_SECRET = "driftguard-test-secret"
S3_REGION = "us-east-1"
#: Roles in this group log in with a password; the others are trusted.
PASSWORD_ROLE = "password_login"


class ServerUnavailable(RuntimeError):
    """A server binary is not installed (the reason is the message)."""


def postgres_binaries() -> Path:
    """The folder holding initdb and pg_ctl (Debian keeps them off PATH)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    raise ServerUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed: run "
        "scripts/ensure-system-packages as root, or `apt-get install postgresql`"
    )


def _as_postgres(args: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@dataclass
class PostgresServer:
    """One PostgreSQL cluster on 127.0.0.1:<port>, superuser ``postgres`` with trust auth."""

    root: Path
    port: int = field(default_factory=free_port)
    user: str = "postgres"
    _databases: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def start(self, timeout: float = 60) -> PostgresServer:
        bins = postgres_binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        run = subprocess.run(
            _as_postgres(
                [str(bins / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", self.user]
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if run.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {run.stdout}{run.stderr}")
        # members of the role password_login must give their password (scram); everyone
        # else is trusted (a throw-away server on loopback)
        hba = self.data_dir / "pg_hba.conf"
        rules = hba.read_text()
        hba.write_text(f"host all +{PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n{rules}")
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c max_connections=400",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        run = subprocess.run(
            _as_postgres(
                [
                    str(bins / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=timeout + 30,
        )
        if run.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise ServerUnavailable(f"pg_ctl start failed: {run.stdout}{run.stderr}\n{log}")
        self.psql(f"CREATE ROLE {PASSWORD_ROLE} NOLOGIN")
        return self

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(
                [
                    str(postgres_binaries() / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "stop",
                ]
            ),
            capture_output=True,
            timeout=60,
        )

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq key=value DSN (the form ``ducklake:postgres:`` and ``ATTACH ... TYPE postgres``
        take)."""
        return f"dbname={dbname} host=127.0.0.1 port={self.port} user={self.user}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        run = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, self.dsn(dbname)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if run.returncode != 0:
            raise RuntimeError(f"psql failed: {run.stderr}")
        return run.stdout

    def create_database(self, prefix: str = "dg") -> str:
        """A new empty database (one per test keeps lakes apart)."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        self.psql(f"CREATE DATABASE {name}")
        return name


@dataclass
class S3Server:
    """moto's server mode: an S3-compatible endpoint on 127.0.0.1:<port>."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> S3Server:
        executable = Path(sys.executable).with_name("moto_server")
        if not executable.exists():
            raise ServerUnavailable("moto_server is not installed: `make install-dev`")
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "moto.log").open("ab")
        self.process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://{self.endpoint}/moto-api/", timeout=2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise ServerUnavailable("moto_server exited at start") from None
                time.sleep(0.2)
        raise ServerUnavailable(f"moto_server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def client(self):  # boto3 is a test dependency only
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name=S3_REGION,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def environment(self) -> dict[str, str]:
        """The DRIFTGUARD_S3_* variables a lake on this server needs."""
        return {
            "DRIFTGUARD_S3_KEY_ID": S3_KEY_ID,
            "DRIFTGUARD_S3_SECRET": S3_SECRET,
            "DRIFTGUARD_S3_REGION": S3_REGION,
            "DRIFTGUARD_S3_ENDPOINT": self.endpoint,
            "DRIFTGUARD_S3_URL_STYLE": "path",
            "DRIFTGUARD_S3_USE_SSL": "false",
        }


def temporary_root(prefix: str) -> Path:
    """A folder every user can enter (the postgres user must reach its data directory)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root
