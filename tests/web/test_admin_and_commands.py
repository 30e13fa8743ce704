"""Admin pages (admin only), the account page and the user commands of the ``caseflow`` CLI."""
from __future__ import annotations

import gc
from pathlib import Path

import pytest
from click.testing import CliRunner

import engine
from caseflow import accounts, cli, store

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = Path(__file__).resolve().parent / "bundles"


@pytest.mark.parametrize("user", ["service", "quality", "manager", "gm", "finance"])
@pytest.mark.parametrize("url", ["/admin/", "/admin/users", "/admin/users/1"])
def test_admin_pages_are_for_admins_only(browser, user, url):
    assert browser(user).get(url).status_code == 403


def test_admin_home_lists_processes_and_links_to_process_versions(deployed, browser):
    html = browser("admin").get("/admin/").get_data(as_text=True)
    assert 'href="/admin/processes"' in html and "Customer complaint" in html and "formdemo" in html
    assert 'href="/admin/"' in browser("admin").get("/").get_data(as_text=True)
    assert 'href="/admin/"' not in browser("service").get("/").get_data(as_text=True)


def test_admin_adds_and_edits_users(database, browser):
    admin = browser("admin")
    assert "quality" in admin.get("/admin/users").get_data(as_text=True)
    response = admin.post("/admin/users", {"username": "zhang", "display_name": "张三", "password": "pw-123456",
                                           "roles": ["quality", "manager"], "extra_roles": "warehouse"})
    assert response.status_code == 302
    with database.session() as s:
        user = accounts.find_user(s, "zhang")
        assert user.role_names == {"quality", "manager", "warehouse"} and user.display_name == "张三"
        user_id = user.id
    assert browser().login("zhang", "pw-123456").status_code == 302

    taken = admin.post("/admin/users", {"username": "zhang", "password": "pw-123456", "roles": ["quality"]})
    assert taken.status_code == 422 and "already exists" in taken.get_data(as_text=True)
    assert admin.post("/admin/users", {"username": "li", "password": "pw-123456"}).status_code == 422  # no role

    assert admin.get(f"/admin/users/{user_id}").status_code == 200
    response = admin.post(f"/admin/users/{user_id}", {"display_name": "Zhang San", "roles": ["finance"]})
    assert response.status_code == 302
    with database.session() as s:
        user = accounts.find_user(s, "zhang")
        assert user.role_names == {"finance"} and user.active is False
    assert browser().login("zhang", "pw-123456").status_code == 401  # deactivated
    assert admin.get("/admin/users/999").status_code == 404


def test_account_page_changes_the_display_name(database, browser):
    b = browser("finance")
    assert b.get("/account/").status_code == 200
    assert b.post("/account/", {"display_name": "Finance Wang"}).status_code == 302
    assert "Finance Wang" in b.get("/").get_data(as_text=True)
    wrong = b.post("/account/", {"display_name": "x", "current_password": "bad", "new_password": "abcdef"})
    assert wrong.status_code == 422


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    return store.Database(f"sqlite:///{tmp_path / 'cli.sqlite3'}")


def test_users_add_and_list(cli_env):
    runner = CliRunner()
    result = runner.invoke(cli.main, ["users", "add", "wang", "--role", "quality", "--role", "manager",
                                      "--password", "pw-123456"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli.main, ["users", "add", "wang", "--role", "quality", "--password", "x1234"]).exit_code == 2
    short = runner.invoke(cli.main, ["users", "add", "qian", "--role", "quality", "--password", "seven-7"])
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    prompted = runner.invoke(cli.main, ["users", "add", "zhao", "--role", "finance"], input="pw-567890\npw-567890\n")
    assert prompted.exit_code == 0, prompted.output
    listing = runner.invoke(cli.main, ["users", "list"]).output
    assert "wang" in listing and "manager, quality" in listing and "zhao" in listing
    with cli_env.session() as s:
        assert accounts.authenticate(s, "zhao", "pw-567890") is not None
        assert accounts.find_user(s, "wang").password_hash.startswith("$argon2")


def test_demo_users_cover_every_role_and_are_idempotent(cli_env):
    runner = CliRunner()
    first = runner.invoke(cli.main, ["demo-users"])
    assert first.exit_code == 0 and "service-demo" in first.output
    assert runner.invoke(cli.main, ["demo-users"]).exit_code == 0
    with cli_env.session() as s:
        users = accounts.list_users(s)
        assert len(users) == len(accounts.DEMO_USERS)
        assert set().union(*(u.role_names for u in users)) == set(accounts.ROLES) - {accounts.CUSTOMER_ROLE}
        for demo in accounts.DEMO_USERS:
            assert accounts.authenticate(s, demo.username, demo.password) is not None
            assert demo.username in first.output and demo.password in first.output


def test_serve_is_a_command():
    result = CliRunner().invoke(cli.main, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output


def test_demo_users_are_only_created_never_reset(cli_env):
    runner = CliRunner()
    assert runner.invoke(cli.main, ["demo-users"]).exit_code == 0
    with cli_env.session() as s:
        quality = accounts.find_user(s, "quality")
        accounts.set_password(quality, "changed-by-admin")
        accounts.set_roles(quality, ["quality", "manager"])
        accounts.find_user(s, "gm").active = False
        s.delete(accounts.find_user(s, "finance"))
    again = runner.invoke(cli.main, ["demo-users"])
    assert again.exit_code == 0, again.output
    assert "finance-demo" in again.output and "quality-demo" not in again.output  # only the missing one
    assert "left unchanged" in again.output and "quality" in again.output
    with cli_env.session() as s:
        assert accounts.authenticate(s, "quality", "changed-by-admin") is not None
        assert accounts.authenticate(s, "quality", "quality-demo") is None
        assert accounts.find_user(s, "quality").role_names == {"quality", "manager"}
        assert accounts.find_user(s, "gm").active is False
        assert accounts.authenticate(s, "finance", "finance-demo") is not None


def test_serve_migrates_then_execs_the_server_module_by_name(cli_env, tmp_path, monkeypatch):
    import os
    import sys

    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, argv)))
    refused = CliRunner().invoke(cli.main, ["serve", "--port", "5123", "--workers", "3"])
    assert refused.exit_code == 2 and "--workers above 1 needs PostgreSQL" in refused.output  # SQLite: one process
    assert calls == []
    result = CliRunner().invoke(cli.main, ["serve", "--host", "0.0.0.0", "--port", "5123", "--threads", "2"])
    assert result.exit_code == 0, result.output
    assert "http://localhost:5123/" in result.output
    [(path, argv)] = calls
    assert path == sys.executable and argv[:3] == [sys.executable, "-m", "web.serving"]
    opts = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert opts == {"--host": "0.0.0.0", "--port": "5123", "--threads": "2"}
    assert (tmp_path / "cli.sqlite3").exists()  # migrated before the server starts
    with cli_env.session() as s:
        assert accounts.list_users(s) == []  # the schema is there


def test_the_cli_runs_without_loading_the_web_package(cli_env):
    import subprocess
    import sys

    code = ("import sys\nfrom click.testing import CliRunner\nfrom caseflow import cli\n"
            "for args in (['--help'], ['serve', '--help'], ['users', 'list'], ['demo-users'], ['processes']):\n"
            "    assert CliRunner().invoke(cli.main, args).exit_code == 0, args\n"
            "print(sorted(m for m in sys.modules if m == 'web' or m.startswith(('web.', 'flask'))))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_server_module_builds_the_app_and_its_timer_leader(cli_env, monkeypatch):
    from web import serving

    monkeypatch.setattr(serving, "create_server", lambda app, **options: (app, options))
    try:
        server = serving.Server("127.0.0.1", 5123, 3)
        assert gc.get_freeze_count() > 0  # the heap it starts with is kept out of garbage collection
    finally:
        gc.unfreeze()  # (this test process goes on collecting as before)
    app, options = server.wsgi
    assert options["port"] == 5123 and options["threads"] == 3
    assert server.app.test_client().get("/login").status_code == 200
    assert server.timers.db is server.db and not server.timers.lock.held  # leads only once running
    server.db.dispose()


def test_settling_the_heap_parses_the_startable_versions_first(cli_env, monkeypatch):
    from web import serving

    cli_env.upgrade()
    with cli_env.session() as s:
        engine.deploy(s, [ROOT / "processes" / "repair"], actor="admin")
    parsed = []
    monkeypatch.setattr(serving.engine, "start_form", lambda session, key: parsed.append(key))
    try:
        assert serving.settle_heap(cli_env) > 1000  # the modules, the app, the parsed versions
    finally:
        gc.unfreeze()
    assert parsed == ["repair"]


def _packaging_lab(tmp_path: Path) -> Path:
    """The site-visit bundle with its lane renamed: a role (packaging_lab) no one holds yet."""
    folder = tmp_path / "packaging"
    folder.mkdir()
    for source in (BUNDLES / "sitevisit").iterdir():
        (folder / source.name).write_text(source.read_text().replace('name="Quality"', 'name="Packaging Lab"'))
    return folder


def test_a_new_lanes_role_is_offered_before_its_first_task_and_an_unused_role_is_told(database, browser,
                                                                                       tmp_path):
    with database.session() as s:
        engine.deploy(s, [_packaging_lab(tmp_path)], actor="admin")
        assert "packaging_lab" in engine.lane_roles(s)
        assert not engine.list_tasks(s, role="packaging_lab")
    admin = browser("admin")
    assert 'value="packaging_lab"' in admin.get("/admin/users").get_data(as_text=True)
    fine = admin.post("/admin/users", {"username": "sun", "password": "pw-123456", "roles": ["packaging_lab"]},
                      follow_redirects=True).get_data(as_text=True)
    assert "User sun added." in fine and "check the spelling" not in fine
    typo = admin.post("/admin/users", {"username": "zhou", "password": "pw-123456", "extra_roles": "packagng_lab"},
                      follow_redirects=True).get_data(as_text=True)
    assert "User zhou added." in typo
    assert "No deployed process, task or other user has the role packagng_lab: check the spelling." in typo


def test_users_add_warns_of_a_role_nothing_uses(cli_env, tmp_path):
    runner = CliRunner()
    deployed = runner.invoke(cli.main, ["deploy", str(_packaging_lab(tmp_path))])
    assert deployed.exit_code == 0, deployed.output
    typo = runner.invoke(cli.main, ["users", "add", "wu", "--role", "qualty", "--password", "pw-123456"])
    assert typo.exit_code == 0, typo.output  # a role ahead of its lane is allowed
    assert "warning: no deployed process, task or other user has the role qualty" in typo.stderr
    for name, role in (("zheng", "quality"), ("feng", "packaging_lab")):
        fine = runner.invoke(cli.main, ["users", "add", name, "--role", role, "--password", "pw-123456"])
        assert fine.exit_code == 0 and "warning" not in fine.stderr, fine.output
    listed = runner.invoke(cli.main, ["tasks", "--role", "packaging_lab"])
    assert listed.exit_code == 0, listed.output  # a deployed lane's role is a role to filter by
