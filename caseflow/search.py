"""Search across cases (number, customer, product, order, description, comments) and saved inbox filters.

The index is ``case_search`` (:mod:`caseflow.search_index`: kept in step by triggers, never from the
workflow state). A query is split at spaces into up to :data:`MAX_TERMS` terms; a case matches when
it contains every term as a substring (any case, CJK text included), in its indexed data or in its
comments. Newest cases first, at most :data:`LIMIT`.

- SQLite: terms of three characters or more are found from the FTS5 trigram index: a short one as
  a phrase, a longer one by its :data:`RAREST` rarest trigrams (the index's vocabulary counts them;
  ``CP-`` or ``202`` are in nearly every case) with a check of the whole word on the rows found.
  Shorter terms (``张三``) are ``LIKE`` filters on the matching rows, or a scan in id order that
  stops at the first :data:`LIMIT` hits when every term is short.
- PostgreSQL: ``ILIKE`` per term, served by the ``pg_trgm`` GIN indexes (three characters or more).

Who sees what: every active staff user sees every case in Caseflow (the case list and case pages
have no per-role restriction), so search limits results only by the process chosen, if any.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from caseflow import clock, limits, search_index, store
from caseflow.config import MAX_DB_ID

LIMIT = 50
MAX_TERMS = 5
MAX_QUERY_CHARS = 200
TRIGRAM = 3
RAREST = 3  # trigrams of a long word read from the index (SQLite)
#: The inbox's query arguments a saved filter keeps.
FILTER_ARGS = ("process", "role", "holder", "sort", "order")
FILTER_NAME_MAX = 100
MAX_FILTERS = 50


def terms(query: str) -> list[str]:
    """The search terms of ``query``: its words (at most :data:`MAX_TERMS`, duplicates dropped)."""
    words = limits.clean_text(query or "")[:MAX_QUERY_CHARS].split()
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _trigrams(word: str) -> list[str]:
    folded = word.lower()
    return list(dict.fromkeys(folded[i:i + TRIGRAM] for i in range(len(folded) - TRIGRAM + 1)))


def _rarest(session: Session, words: list[str]) -> dict[str, list[str]] | None:
    """Per word of more than :data:`RAREST` trigrams, its :data:`RAREST` rarest ones (from the index's
    vocabulary); None when some trigram is in no case at all (nothing can match)."""
    wanted = {w: _trigrams(w) for w in words if len(_trigrams(w)) > RAREST}
    every = sorted({t for grams in wanted.values() for t in grams})
    if not every:
        return {}
    stmt = text(f"SELECT term, doc FROM {search_index.VOCABULARY} WHERE term IN :terms").bindparams(
        bindparam("terms", expanding=True))
    counts = {str(t): int(n) for t, n in session.execute(stmt, {"terms": every})}
    if any(t not in counts for t in every):
        return None
    return {w: sorted(grams, key=lambda t: counts[t])[:RAREST] for w, grams in wanted.items()}


def _sqlite(session: Session, words: list[str], params: dict[str, Any]) -> str | None:
    """The SQLite query. A long word's phrase would read the document lists of all its trigrams, some
    of which are in almost every case (``CP-``, ``202``): it matches its rarest trigrams instead, and
    the rows found are checked for the whole word (``|| ''`` keeps that check off the index)."""
    long = [w for w in words if len(w) >= TRIGRAM]
    rarest = _rarest(session, long)
    if rarest is None:
        return None
    where, phrases, checks = [], [], []
    for word in long:
        phrases += [_phrase(t) for t in rarest[word]] if word in rarest else [_phrase(word)]
        if word in rarest:
            checks.append(word)
    if phrases:
        params["match"] = " AND ".join(phrases)
        where.append("case_search MATCH :match")
    for i, word in enumerate(checks + [w for w in words if len(w) < TRIGRAM]):
        params[f"p{i}"] = _like(word)
        where.append(f"((doc || '') LIKE :p{i} ESCAPE '\\' OR (comments || '') LIKE :p{i} ESCAPE '\\')")
    return f"SELECT rowid AS id FROM case_search WHERE {' AND '.join(where)} ORDER BY rowid DESC"


def _postgres(words: list[str], params: dict[str, Any]) -> str:
    """The PostgreSQL query. Words of three characters or more: the matches are found first
    (``MATERIALIZED``: from the trigram indexes), then ordered; left to itself the planner walks the
    primary key backwards and tests every row, seconds for a rare word. Shorter words have no
    trigram, so that walk (stopping at the first :data:`LIMIT` hits) is the way then."""
    where = []
    for i, word in enumerate(words):
        params[f"p{i}"] = _like(word)
        where.append(f"(doc ILIKE :p{i} ESCAPE '\\' OR comments ILIKE :p{i} ESCAPE '\\')")
    if any(len(w) < TRIGRAM for w in words):  # no trigram to look up: newest first until enough are found
        return f"SELECT instance_id AS id FROM case_search WHERE {' AND '.join(where)} ORDER BY instance_id DESC"
    return (f"WITH found AS MATERIALIZED (SELECT instance_id FROM case_search WHERE {' AND '.join(where)}) "
            "SELECT instance_id AS id FROM found ORDER BY instance_id DESC")


def matching_ids(session: Session, query: str, process_keys: Iterable[str] | None = None,
                 limit: int = LIMIT) -> list[int]:
    """Ids of the cases matching ``query`` (of ``process_keys`` when given), newest first."""
    words = terms(query)
    if not words:
        return []
    params: dict[str, Any] = {"limit": limit}
    postgres = session.get_bind().dialect.name == "postgresql"
    inner = _postgres(words, params) if postgres else _sqlite(session, words, params)
    if inner is None:
        return []
    keys = sorted(set(process_keys)) if process_keys is not None else None
    if keys is not None:
        if not keys:
            return []
        params["keys"] = keys
        sql = (f"SELECT s.id FROM ({inner}) AS s JOIN process_instance AS p ON p.id = s.id "
               "WHERE p.process_key IN :keys ORDER BY s.id DESC LIMIT :limit")
        stmt = text(sql).bindparams(bindparam("keys", expanding=True))
    else:
        stmt = text(inner + " LIMIT :limit")
    return [int(r[0]) for r in session.execute(stmt, params)]


#: What a result shows of a case: a few data values read in SQL (never the whole data or the state).
SHOWN_KEYS = ("customer_name", "customer_code", "product_model", "product_no")
_RESULT_COLUMNS = (store.ProcessInstance.id, store.ProcessInstance.process_key, store.ProcessInstance.business_key,
                   store.ProcessInstance.status, store.ProcessInstance.created_at,
                   *(store.data_text(k).label(k) for k in SHOWN_KEYS))


#: The number a customer is given for a repair application that has no repair number yet
#: (``RA-000005``, the portal), and the ``#5`` a case page shows of a case without a number: the case id.
APPLICATION_PREFIX = "RA-"
_ID_REFERENCE = re.compile(r"^(RA-|#)(\d{1,10})$", re.IGNORECASE)


def application_reference(case_id: int) -> str:
    """The number a customer tracks an application by before it has a repair number: ``RA-000005``."""
    return f"{APPLICATION_PREFIX}{case_id:06d}"


def reference_id(query: str, application_only: bool = False) -> int | None:
    """The case id ``RA-000005`` (or ``#5``, unless ``application_only``) names; None for anything else."""
    found = _ID_REFERENCE.match(query.strip())
    if found is None or (application_only and found.group(1).upper() != APPLICATION_PREFIX):
        return None
    case_id = int(found.group(2))
    return case_id if 0 < case_id <= MAX_DB_ID else None


def search(session: Session, query: str, process_keys: Iterable[str] | None = None,
           limit: int = LIMIT) -> list[Any]:
    """The matching cases' rows (id, process_key, business_key, status, created_at and the values of
    :data:`SHOWN_KEYS`), newest first; a case reference (``RA-000005``, ``#5``) finds that case."""
    by_reference = reference_id(query)
    if by_reference is not None:
        ids = [by_reference]
    else:
        ids = matching_ids(session, query, process_keys, limit)
    if not ids:
        return []
    keys = set(process_keys) if process_keys is not None else None
    rows = {r.id: r for r in session.execute(select(*_RESULT_COLUMNS).where(store.ProcessInstance.id.in_(ids)))
            if keys is None or r.process_key in keys}
    return [rows[i] for i in ids if i in rows]


# --- saved inbox filters ----------------------------------------------------------------------------------

F = store.SavedFilter


class FilterRejected(ValueError):
    """A saved filter's name is empty, too long, taken, or the user has too many."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def filter_args(args: dict[str, Any]) -> dict[str, str]:
    """The inbox arguments of ``args`` a filter keeps (non-empty, known ones, as short text)."""
    return {k: limits.clean_text(str(args[k]))[:200] for k in FILTER_ARGS if args.get(k)}


def save_filter(session: Session, username: str, name: str, args: dict[str, Any]) -> store.SavedFilter:
    """Save (or replace, by name) one of ``username``'s inbox filters."""
    name = (name or "").strip()
    if not name or len(name) > FILTER_NAME_MAX or limits.text_problem(name, FILTER_NAME_MAX):
        raise FilterRejected("name")
    existing = session.scalars(select(F).where(F.username == username, F.name == name)).first()
    if existing is not None:
        existing.args = filter_args(args)
        return existing
    if len(filters_of(session, username)) >= MAX_FILTERS:
        raise FilterRejected("too_many")
    row = F(username=username, name=name, args=filter_args(args), created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def filters_of(session: Session, username: str) -> list[store.SavedFilter]:
    """The user's saved filters by name."""
    return list(session.scalars(select(F).where(F.username == username).order_by(F.name)))


def delete_filter(session: Session, username: str, filter_id: int) -> bool:
    """Remove one of the user's filters; False when it is not theirs."""
    row = session.get(F, filter_id)
    if row is None or row.username != username:
        return False
    session.delete(row)
    return True


def query_string(saved: store.SavedFilter) -> str:
    """The inbox query string of a saved filter."""
    return urlencode(filter_args(saved.args or {}))
