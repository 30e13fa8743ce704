"""API token authentication: one query, then a short-lived cache that every account change invalidates.

Each test first uses the token (so the process has it cached), then changes the account, and
expects the very next request to see the change: well inside the cache's lifetime, so only the
invalidation can make it pass.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from caseflow import accounts, store


@contextmanager
def counted(db: store.Database) -> Iterator[list[str]]:
    """The SQL statements run on ``db`` inside the block."""
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def authenticate(db: store.Database, plain: str) -> accounts.ApiCaller | None:
    with db.session() as s:
        return accounts.authenticate_token(s, plain)


def user_of(session: object, name: str) -> store.User:
    user = accounts.find_user(session, name)  # type: ignore[arg-type]
    assert user is not None
    return user


def test_a_token_costs_one_query_then_none(database: store.Database, tokens: dict[str, str]) -> None:
    with counted(database) as first:
        who = authenticate(database, tokens["quality"])
    assert who is not None and who.username == "quality" and who.roles == {"quality"}
    selects = [q for q in first if q.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, first  # token, user and roles in one statement
    with counted(database) as second:
        again = authenticate(database, tokens["quality"])
    assert again == who
    assert not [q for q in second if q.lstrip().upper().startswith("SELECT")], second


def test_unknown_and_malformed_tokens_are_refused(database: store.Database, tokens: dict[str, str]) -> None:
    assert authenticate(database, "cf_not-a-token") is None
    assert authenticate(database, "") is None
    assert authenticate(database, "x" * 500) is None


@pytest.mark.parametrize("change", ["revoke", "revoke_all", "password", "deactivate"])
def test_a_cached_token_stops_working_once_the_change_commits(database: store.Database, tokens: dict[str, str],
                                                              change: str) -> None:
    plain = tokens["quality"]
    who = authenticate(database, plain)
    assert who is not None
    with database.session() as s:
        user = user_of(s, "quality")
        if change == "revoke":
            accounts.revoke_token(s, who.token_id, "quality")
        elif change == "revoke_all":
            accounts.revoke_all_tokens(s, user)
        elif change == "password":
            accounts.set_password(user, "a-new-password")
        else:
            accounts.set_active(user, False)
    assert authenticate(database, plain) is None
    assert authenticate(database, tokens["manager"]) is not None  # other users' tokens are untouched


def test_new_roles_are_seen_at_once(database: store.Database, tokens: dict[str, str]) -> None:
    assert authenticate(database, tokens["quality"]).roles == {"quality"}  # type: ignore[union-attr]
    with database.session() as s:
        accounts.set_roles(user_of(s, "quality"), ["quality", "manager"])
    assert authenticate(database, tokens["quality"]).roles == {"quality", "manager"}  # type: ignore[union-attr]


def test_a_check_read_before_the_revocation_commits_is_not_trusted_after(database: store.Database,
                                                                          tokens: dict[str, str]) -> None:
    """A request that reads the token while a revocation is still uncommitted caches the old
    answer; the revocation's commit drops it again."""
    plain = tokens["quality"]
    assert authenticate(database, plain) is not None  # its last use is recorded: no write below
    accounts.clear_token_cache()
    with database.session() as s:
        user = user_of(s, "quality")
        accounts.revoke_all_tokens(s, user)
        s.flush()
        # Another request, before that commit, still sees the token valid (and caches it).
        assert authenticate(database, plain) is not None
    assert authenticate(database, plain) is None


def test_a_rolled_back_change_leaves_the_token_working(database: store.Database, tokens: dict[str, str]) -> None:
    plain = tokens["quality"]
    assert authenticate(database, plain) is not None
    with pytest.raises(RuntimeError), database.session() as s:
        accounts.revoke_all_tokens(s, user_of(s, "quality"))
        raise RuntimeError("the change is rolled back")
    assert authenticate(database, plain) is not None


def test_revoking_over_the_api_takes_effect_at_once(api: object, database: store.Database,
                                                    tokens: dict[str, str]) -> None:
    """Through the app: the second token works, is revoked with the first, and is refused next."""
    client = api.client  # type: ignore[attr-defined]
    with database.session() as s:
        row, second = accounts.create_token(s, "quality", "second")
        second_id = row.id

    def me(token: str) -> int:
        return int(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code)

    assert me(second) == 200
    res = client.delete(f"/api/v1/tokens/{second_id}", headers={"Authorization": f"Bearer {tokens['quality']}"})
    assert res.status_code == 200, res.get_json()
    assert me(second) == 401
    assert me(tokens["quality"]) == 200


def test_last_use_is_recorded_from_the_cache_too(database: store.Database, tokens: dict[str, str],
                                                 frozen_clock: Callable[..., object]) -> None:
    import datetime as dt

    from caseflow import clock

    plain = tokens["service"]
    assert authenticate(database, plain) is not None
    with database.session() as s:
        first = accounts.list_tokens(s, "service")[0].last_used_at
    assert first is not None
    clock.advance(dt.timedelta(minutes=2))
    assert authenticate(database, plain) is not None  # served from the cache
    with database.session() as s:
        later = accounts.list_tokens(s, "service")[0].last_used_at
    assert later is not None and later > first


def test_a_revocation_by_another_process_is_seen_at_once_on_sqlite(database: store.Database,
                                                                     tokens: dict[str, str]) -> None:
    """`caseflow tokens revoke` in a shell is another process: on SQLite it touches the signal file
    beside the database, and the server forgets its cached tokens before the next answer."""
    import os
    import subprocess
    import sys

    assert authenticate(database, tokens["quality"]) is not None  # cached now
    with database.session() as s:
        user_id = user_of(s, "quality").id
    script = ("import sys; from caseflow import accounts, store\n"
              "db = store.Database(sys.argv[1])\n"
              "with db.session() as s:\n"
              "    accounts.revoke_all_tokens(s, s.get(store.User, int(sys.argv[2])))\n")
    done = subprocess.run([sys.executable, "-c", script, database.url, str(user_id)], env={**os.environ},
                          timeout=60)
    assert done.returncode == 0
    assert authenticate(database, tokens["quality"]) is None  # well inside the cache's lifetime
    assert authenticate(database, tokens["service"]) is not None  # others: read again, still fine
