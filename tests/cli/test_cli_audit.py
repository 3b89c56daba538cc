"""``driftguard audit ...``: exit codes, JSON, files, and the key never shown."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest
from typer.testing import CliRunner

from driftguard import audit
from driftguard.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def filled(workspace):
    """Five entries: alice's policy changes and one critical kill-switch activation by bob."""
    with workspace.open_lake() as lake:
        for i in range(4):
            audit.append(
                lake,
                event_type="policy.changed",
                action="update",
                actor="alice",
                resource_type="policy",
                resource_id="p1",
                payload={"version": i},
            )
        audit.append(
            lake,
            event_type="killswitch.activated",
            action="activate",
            actor="bob",
            resource_type="model",
            resource_id="credit",
            severity="critical",
            reason="PSI 0.41",
        )
    return workspace


def test_verify_is_unanchored_until_a_checkpoint_is_supplied(filled, tmp_path):
    result = invoke("audit", "verify")
    assert result.exit_code == 1 and "UNANCHORED" in result.stdout
    assert invoke("audit", "verify", "--allow-unanchored").exit_code == 0
    saved = tmp_path / "checkpoint.txt"
    result = invoke("audit", "checkpoint", "--out", str(saved))
    assert result.exit_code == 0 and result.stdout.startswith("driftguard-audit-checkpoint/1 ")
    assert "unsigned" in result.stderr
    result = invoke("audit", "verify", "--checkpoint", str(saved), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["status"] == "ok" and data["anchored_size"] == 5


def test_verify_reads_checkpoints_from_a_folder_of_reports(filled, tmp_path):
    line = invoke("audit", "checkpoint").stdout.strip()
    reports = tmp_path / "reports" / "2026-03"
    reports.mkdir(parents=True)
    (reports / "credit.html").write_text(f"<footer><code>{line}</code></footer>", encoding="utf-8")
    result = invoke("audit", "verify", "--reports", str(tmp_path / "reports"))
    assert result.exit_code == 0 and result.stdout.startswith("OK: 5 entries verified")


def test_verify_names_the_first_bad_entry_and_exits_1(filled, tmp_path):
    line = invoke("audit", "checkpoint").stdout.strip()
    (tmp_path / "cp.txt").write_text(line, encoding="utf-8")
    with filled.open_lake() as lake:
        lake.execute("DELETE FROM audit_entries WHERE seq >= 4")
        lake.execute("UPDATE audit_head SET size = 3")  # not enough to hide it from the copy
    result = invoke("audit", "verify", "--checkpoint", str(tmp_path / "cp.txt"), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert (data["status"], data["first_bad_seq"], data["kind"]) == ("tampered", 4, "deleted")
    human = invoke("audit", "verify", "--checkpoint", str(tmp_path / "cp.txt"))
    assert "TAMPERED (deleted, first bad seq 4)" in human.stdout


def test_export_then_verify_export(filled, tmp_path):
    line = invoke("audit", "checkpoint").stdout.strip()
    (tmp_path / "cp.txt").write_text(line, encoding="utf-8")
    out = tmp_path / "audit.jsonl"
    result = invoke("audit", "export", "--out", str(out))
    assert result.exit_code == 0 and "wrote 5 entries" in result.stdout
    result = invoke("audit", "verify-export", str(out), "--checkpoint", str(tmp_path / "cp.txt"))
    assert result.exit_code == 0 and result.stdout.startswith("OK: 5 entries")
    table = tmp_path / "audit.csv"
    assert invoke("audit", "export", "--format", "csv", "--out", str(table)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert [r["actor"] for r in rows] == ["alice"] * 4 + ["bob"]
    assert invoke("audit", "export", "--format", "xml").exit_code == 2
    stdout = invoke("audit", "export").stdout.splitlines()
    assert json.loads(stdout[0])["format"] == "driftguard-audit-export/1"


def test_trail_stats_and_summary(filled):
    trail = json.loads(invoke("audit", "trail", "--actor", "bob", "--json").stdout)
    assert [(e["seq"], e["severity"]) for e in trail] == [(5, "critical")]
    by_resource = invoke("audit", "trail", "--resource", "policy:p1", "--json").stdout
    assert [e["seq"] for e in json.loads(by_resource)] == [1, 2, 3, 4]
    assert invoke("audit", "trail").exit_code == 2  # neither --actor nor --resource
    stats = json.loads(invoke("audit", "stats", "--json").stdout)
    assert stats["entries"] == 5 and stats["by_actor"] == {"alice": 4, "bob": 1}
    summary = json.loads(invoke("audit", "summary", "--since", "2020-01-01", "--json").stdout)
    assert summary["entries"] == 5 and [e["seq"] for e in summary["critical"]] == [5]
    human = invoke("audit", "summary", "--since", "2020-01-01")
    assert human.exit_code == 0 and "PSI 0.41" in human.stdout
    bad = invoke("audit", "summary", "--since", "yesterday")
    assert bad.exit_code == 2 and "not an ISO 8601 date" in bad.output


def test_revert_rollback_and_recover(filled):
    result = invoke("audit", "revert", "5", "--reason", "false alarm", "--actor", "carol")
    assert result.exit_code == 0 and "entry 6 reverts entry 5" in result.stdout
    again = invoke("audit", "revert", "5", "--reason", "again")
    assert again.exit_code == 2 and "already reverted" in again.output
    assert invoke("audit", "revert", "42", "--reason", "x").exit_code == 1  # no such entry
    rollback = invoke("audit", "rollback", "2", "--reason", "withdrawn", "--json")
    assert json.loads(rollback.stdout)["payload"]["reverted"] == {"from": 3, "to": 6}
    intact = invoke("audit", "recover", "--reason", "test")
    assert intact.exit_code == 2 and "--force" in intact.output
    with filled.open_lake() as lake:
        lake.execute("DELETE FROM audit_entries WHERE seq = 2")
    recovered = invoke("audit", "recover", "--reason", "entry 2 deleted")
    assert recovered.exit_code == 0 and "epoch 2 started" in recovered.stdout
    assert "driftguard-audit-checkpoint/1" in recovered.stdout
    new = json.loads(invoke("audit", "verify", "--json").stdout)
    assert new["status"] == "unanchored" and new["size"] == 1  # a fresh, intact epoch
    with filled.open_lake() as lake:
        old_log = audit.log_ids(lake)[0]["log_id"]
    old = invoke("audit", "verify", "--log-id", old_log, "--json")
    assert old.exit_code == 1 and json.loads(old.stdout)["first_bad_seq"] == 2  # evidence kept


def test_proof(filled):
    proof = json.loads(invoke("audit", "proof", "3").stdout)
    assert proof["seq"] == 3 and proof["size"] == 5 and len(proof["proof"]) == 3


def test_keygen_writes_a_private_key_only_to_its_file(filled, tmp_path, monkeypatch):
    key = tmp_path / "audit-key.pem"
    result = invoke("audit", "keygen", "--out", str(key))
    assert result.exit_code == 0
    pem = key.read_text(encoding="utf-8")
    assert "PRIVATE KEY" in pem and stat.S_IMODE(key.stat().st_mode) == 0o600
    body = "".join(pem.splitlines()[1:-1])
    assert body not in result.output and "PRIVATE" not in result.output
    assert invoke("audit", "keygen", "--out", str(key)).exit_code == 2  # never overwritten
    monkeypatch.setenv("DRIFTGUARD_AUDIT_SIGNING_KEY", pem)
    line = invoke("audit", "checkpoint").stdout
    assert " alg=ed25519 " in line
    public = next(p for p in result.stdout.split() if len(p) == 64)
    assert f"key={audit.KeyRing([bytes.fromhex(public)]).ed25519.popitem()[0]}" in line
    assert invoke("audit", "verify").exit_code == 0  # the stored signed checkpoint anchors
