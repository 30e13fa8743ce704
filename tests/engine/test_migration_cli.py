"""`caseflow versions | pin | unpin | diff | migrate | tokens` against a fresh database."""
from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "api" / "data"


def _start(caseflow, ref: str) -> dict:
    code, view, err = caseflow("start", "svc_demo", "--data", json.dumps({"ref": ref, "customer_name": "A"}), "--json")
    assert code == 0, err
    return view


def test_versions_pin_unpin_diff(caseflow, frozen_clock):
    assert caseflow("deploy", str(DATA / "v1"))[0] == 0
    assert caseflow("deploy", str(DATA / "v2"))[0] == 0
    _start(caseflow, "A")
    code, out, _ = caseflow("versions", "svc_demo", "--json")
    assert code == 0 and [(v["version"], v["running_instances"]) for v in out["versions"]] == [(2, 1), (1, 0)]
    code, text, _ = caseflow("versions", "svc_demo")
    assert "v2" in text and "[new instances, latest]" in text and "1 running" in text
    code, text, _ = caseflow("pin", "svc_demo", "1")
    assert code == 0 and "v1 (pinned)" in text
    assert _start(caseflow, "B")["version"] == 1
    code, out, _ = caseflow("unpin", "svc_demo", "--json")
    assert code == 0 and out["start_version"] == 2
    code, text, _ = caseflow("diff", "svc_demo", "1", "2")
    assert code == 0 and "parameter days: '2' -> '3'" in text and "+ userTask approve" in text
    code, _, err = caseflow("pin", "svc_demo", "7")
    assert code == 3 and "no version 7" in err


def test_migrate_dry_run_then_for_real(caseflow, frozen_clock):
    caseflow("deploy", str(DATA / "v1"))
    ids = [_start(caseflow, f"R{i}")["id"] for i in range(3)]
    caseflow("deploy", str(DATA / "v2"))
    caseflow("deploy", str(DATA / "v3_unsafe"))

    code, text, _ = caseflow("migrate", "--to", "3", "--all-of", "svc_demo", "--dry-run")
    assert code == 9 and "REFUSED" in text and "would move 0 of 3" in text  # 9: some would not move
    code, out, _ = caseflow("migrate", "--to", "svc_demo@3", "--instance", str(ids[0]), "--json")
    assert code == 9 and out["migrated"] == 0 and "review" in out["instances"][0]["reasons"][0]

    code, out, _ = caseflow("migrate", "--to", "2", "--instance", str(ids[0]), "--json")
    assert code == 0 and out["migrated"] == 1
    code, text, _ = caseflow("migrate", "--to", "svc_demo@2", "--from-version", "1")
    assert code == 0 and "moved 2 of 2" in text
    code, view, _ = caseflow("show", str(ids[2]), "--json")
    assert view["version"] == 2 and [e["kind"] for e in view["audit"]][-1] == "migrated"

    code, _, err = caseflow("migrate", "--to", "2", "--instance", "1", "--all-of", "svc_demo")
    assert code == 2 and "exactly one of" in err
    code, _, err = caseflow("migrate", "--to", "def:999", "--all-of", "svc_demo")
    assert code == 3
    code, _, err = caseflow("migrate", "--to", "2", "--from-version", "1")
    assert code == 6 and "name the process" in err


def test_tokens_create_list_revoke(caseflow):
    assert caseflow("users", "add", "alice", "--role", "quality", "--password", "secret-pw")[0] == 0
    code, token, err = caseflow("tokens", "create", "alice", "--name", "laptop")
    token = token.strip()
    assert code == 0 and token.startswith("cf_") and "shown once" in err
    code, out, _ = caseflow("tokens", "list", "alice", "--json")
    assert [(t["name"], t["active"]) for t in out["tokens"]] == [("laptop", True)]
    assert token not in json.dumps(out)
    token_id = out["tokens"][0]["id"]
    code, text, _ = caseflow("tokens", "revoke", str(token_id))
    assert code == 0 and "revoked" in text
    assert caseflow("tokens", "list", "alice", "--json")[1]["tokens"][0]["active"] is False
    assert caseflow("tokens", "create", "nobody")[0] == 3
    assert caseflow("tokens", "revoke", "999")[0] == 3
