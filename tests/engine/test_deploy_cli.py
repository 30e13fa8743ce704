"""`caseflow deploy` as operators and `make run` use it: --if-new seeding, --check."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "api" / "data"  # svc_demo v1 and v2



def test_seeding_again_keeps_the_versions_deployed_since(caseflow):
    """`make run` deploys the shipped bundles with --if-new on every start: a content some version
    has already is left alone, so what an admin deployed since stays the version new cases start on."""
    assert caseflow("deploy", "--if-new", str(DATA / "v1"), "--json")[1]["processes"][0]["status"] == "deployed"
    assert caseflow("deploy", str(DATA / "v2"), "--json")[1]["processes"][0]["version"] == 2
    seeded = caseflow("deploy", "--if-new", str(DATA / "v1"), "--json")[1]["processes"][0]
    assert (seeded["status"], seeded["version"]) == ("unchanged", 1)
    assert caseflow("processes", "--json")[1]["processes"][0]["start_version"] == 2
    # Without the flag the old content becomes version 3 (a deliberate redeploy).
    assert caseflow("deploy", str(DATA / "v1"), "--json")[1]["processes"][0]["version"] == 3


def test_deploy_check_validates_and_stores_nothing(caseflow, tmp_path):
    code, out, _ = caseflow("deploy", "--check", str(DATA / "v1"))
    assert code == 0 and "svc_demo: version 1 would be deployed (--check: nothing stored)" in out
    assert caseflow("processes", "--json")[1] == {"processes": []}
    broken = tmp_path / "broken.bpmn"
    broken.write_text((DATA / "v1" / "svc_demo.bpmn").read_text()[:500])
    code, _, err = caseflow("deploy", "--check", str(broken))
    assert code == 7 and err.startswith("error:")
