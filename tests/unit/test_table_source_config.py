"""Table-source configuration and secrets, without a server (the reading is tested against a
real PostgreSQL in tests/integration/test_table_source.py, marked e2e)."""

from __future__ import annotations

import pytest

from driftguard.config import ConfigFileError, FileSource, PostgresSource, parse_config
from driftguard.table_source import MissingSourceSecret, _scrub, connection_string
from tests.helpers import model_dict


def config_with(source: dict) -> PostgresSource:
    config = parse_config({"models": [model_dict(sources={"predictions": [source]})]})
    (parsed,) = config.models[0].sources.predictions
    return parsed


BASE = {"type": "postgres", "dsn": "host=db dbname=serving user=dg", "table": "log", "cursor": "id"}


def test_a_table_source_sits_beside_file_sources():
    config = parse_config(
        {
            "models": [
                model_dict(sources={"predictions": [{"path": "logs/*.parquet"}, BASE]}),
            ]
        }
    )
    files, table = config.models[0].sources.predictions
    assert isinstance(files, FileSource) and isinstance(table, PostgresSource)
    assert config.models[0].sources.files("predictions") == [files]
    assert table.key == "postgres:host=db dbname=serving user=dg table=public.log cursor=id"


def test_file_sources_keep_their_config_digest():
    # the discriminator field is not dumped, so configs written before table sources
    # existed keep their digest (and their stored runs stay reusable)
    source = FileSource(path="x/*.csv")
    assert "type" not in source.model_dump()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dsn": "host=db password=hunter2"}, "dsn must not hold a password"),
        ({"dsn_env": "SERVING_DSN"}, "give exactly one of dsn and dsn_env"),
        ({"password_env": "not a name"}, "is not an environment variable name"),
        ({"settle": "5m", "cursor_type": "integer"}, "settle applies to timestamp cursors"),
        ({"typo": 1}, "unknown field"),
    ],
)
def test_bad_table_sources_are_refused(change, message):
    with pytest.raises(ConfigFileError, match=message):
        config_with({**BASE, **change})


def test_unknown_source_type_names_the_known_ones():
    with pytest.raises(ConfigFileError, match="'files', 'postgres'"):
        config_with({**BASE, "type": "mysql"})


def test_password_and_dsn_come_from_the_environment():
    source = config_with({**BASE, "password_env": "DB_PASSWORD"})
    dsn = connection_string(source, {"DB_PASSWORD": "it's\\secret"})
    # libpq quoting: single quotes around the value, backslash-escaped quote and backslash
    assert dsn == "host=db dbname=serving user=dg password='it\\'s\\\\secret'"
    with pytest.raises(MissingSourceSecret, match=r"\$DB_PASSWORD, which is not set"):
        connection_string(source, {})
    from_env = config_with({**BASE, "dsn": None, "dsn_env": "SERVING_DSN"})
    assert from_env.key.startswith("postgres:$SERVING_DSN ")  # the key never holds the DSN
    assert connection_string(from_env, {"SERVING_DSN": "host=h"}) == "host=h"


def test_error_messages_lose_the_password():
    dsn = "host=db password='p@ss w0rd'"
    text = "connection to server failed: password='p@ss w0rd' host=db; FATAL p@ss w0rd"
    scrubbed = _scrub(text, dsn)
    assert "p@ss" not in scrubbed and "password=***" in scrubbed
