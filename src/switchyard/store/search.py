"""Full-text search over an agent's messages: one interface (`MessageSearch`), two backends.

- SQLite: the FTS5 index `messages_fts` (fulltext.py), ranked by bm25, `snippet()` excerpts.
- Postgres: the GIN index over `to_tsvector('english', text)`, ranked by `ts_rank`,
  `ts_headline` excerpts (its parser drops what looks like an HTML tag from an excerpt).

A query is the words of `q` (letters and digits; punctuation and FTS operators are dropped,
so no input is a syntax error), all of which must occur, stemmed: "deploying" finds "deploy".
Results are limited to one agent and to the sessions of one owner (`ALL` for admins; the
ownership rule itself is in runtime/search_access.py).

Each hit carries the reference's fields (`sessionId`, `message`, `matchedText`, `context`,
`messageIndex`) and `snippet`, the excerpt as HTML-escaped text with the matches in <mark>:
excerpts are made with the control characters \\x02/\\x03 around matches, which cannot come
from the escaping, so user text can never inject markup."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection, text

from switchyard.errors import RequestError
from switchyard.store.database import Database
from switchyard.store.fulltext import POSTGRES_CONFIG
from switchyard.store.memories import ALL

OPEN, CLOSE = "\x02", "\x03"
_WORD = re.compile(r"\w+", re.UNICODE)
_MARKED = re.compile(f"{OPEN}(.*?){CLOSE}", re.S)
SNIPPET_WORDS = 24


def query_terms(q: str) -> list[str]:
    terms = _WORD.findall(q or "")
    if not terms:
        raise RequestError("`q` must contain at least one word to search for", code="search_query_invalid",
                           details={"field": "q"})
    return terms[:32]


@dataclass(frozen=True)
class _Filter:
    agent_id: str
    owner: Any
    session_id: str | None = None
    role: str | None = None

    def clauses(self) -> tuple[str, dict[str, Any]]:
        sql, params = ["m.agent_id = :agent"], {"agent": self.agent_id}
        if self.owner is not ALL:
            if self.owner is None:
                sql.append("s.owner IS NULL")
            else:
                sql.append("s.owner = :owner")
                params["owner"] = self.owner
        if self.session_id is not None:
            sql.append("m.session_id = :session")
            params["session"] = self.session_id
        if self.role is not None:
            sql.append("m.role = :role")
            params["role"] = self.role
        return " AND ".join(sql), params


# A page of hits is chosen first (ranked, in a materialised CTE `page`), and only its rows get
# an excerpt and their place in the history: both cost far more than ranking, and a common
# word matches most messages.
_PAGE_MESSAGES = ("FROM page p JOIN messages m ON m.agent_id = p.agent_id AND m.session_id = p.session_id "
                  "AND m.seq = p.seq")
_INDEX_IN_HISTORY = ("(SELECT count(*) FROM messages h WHERE h.agent_id = m.agent_id "
                     "AND h.session_id = m.session_id AND h.seq < m.seq)")


def _page_query(b: Any, where: str, order: str) -> Any:  # `order`: "{t}column ..." templates
    """Hits with their excerpt and history index, for the page `order` (over the columns
    of `page`, unqualified) and :limit/:offset pick."""
    return text(
        f"WITH page AS MATERIALIZED (SELECT m.agent_id, m.session_id, m.seq AS seq, m.created_at AS created_at, "
        f"{b.rank} AS score "
        f"FROM {b.source} WHERE {b.match} AND {where} ORDER BY {order.format(t='')} LIMIT :limit OFFSET :offset) "
        f"SELECT m.session_id, m.seq, m.body, {b.snippet} AS snip, {_INDEX_IN_HISTORY} AS idx "
        f"{b.hits_of_page} ORDER BY {order.format(t='p.')}"
    ).columns(body=JSON)


class _Sqlite:
    # CROSS JOIN fixes the join order: the full-text match drives the query. Left to the
    # planner, a count scans the agent's messages and runs the match once per message
    # (a hundred times slower on ten thousand messages, bench/search_bench.py).
    source = ("messages_fts CROSS JOIN messages m ON m.rowid = messages_fts.rowid "
              "CROSS JOIN sessions s ON s.agent_id = m.agent_id AND s.id = m.session_id")
    match = "messages_fts MATCH :match"
    rank = "bm25(messages_fts)"        # smaller is better
    rank_order = "ASC"
    best = "min"
    snippet = f"snippet(messages_fts, 0, :open, :close, '…', {SNIPPET_WORDS})"
    # snippet() needs its row in a MATCH query of the FTS table.
    hits_of_page = (f"{_PAGE_MESSAGES} JOIN messages_fts ON messages_fts.rowid = m.rowid "
                    "WHERE messages_fts MATCH :match")

    @staticmethod
    def params(terms: list[str]) -> dict[str, Any]:
        return {"match": " ".join(f'"{t}"' for t in terms), "open": OPEN, "close": CLOSE}


class _Postgres:
    vector = f"to_tsvector('{POSTGRES_CONFIG}', coalesce(m.text, ''))"   # the index's expression
    query = f"plainto_tsquery('{POSTGRES_CONFIG}', :match)"
    source = "messages m JOIN sessions s ON s.agent_id = m.agent_id AND s.id = m.session_id"
    match = f"{vector} @@ {query}"
    rank = f"ts_rank({vector}, {query})"  # larger is better
    rank_order = "DESC"
    best = "max"
    snippet = (f"ts_headline('{POSTGRES_CONFIG}', coalesce(m.text, ''), {query}, :headline)")
    hits_of_page = _PAGE_MESSAGES

    @staticmethod
    def params(terms: list[str]) -> dict[str, Any]:
        return {"match": " ".join(terms),
                "headline": f'StartSel="{OPEN}", StopSel="{CLOSE}", MaxWords={SNIPPET_WORDS}, '
                            f'MinWords={SNIPPET_WORDS // 2}'}


def _hit(row: Any) -> dict[str, Any]:
    excerpt = row.snip or ""
    marked = _MARKED.search(excerpt)
    plain = excerpt.replace(OPEN, "").replace(CLOSE, "")
    snippet = html.escape(excerpt).replace(OPEN, "<mark>").replace(CLOSE, "</mark>")
    return {"sessionId": row.session_id, "message": row.body, "matchedText": marked.group(1) if marked else "",
            "context": plain, "messageIndex": int(row.idx), "snippet": snippet}


class MessageSearch:
    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def _backend(self) -> type[_Sqlite] | type[_Postgres]:
        return _Sqlite if self.db.is_sqlite else _Postgres

    async def messages(self, agent_id: str, owner: Any, q: str, *, session_id: str | None = None,
                       role: str | None = None, limit: int = 20, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """(one page of hits, best first; how many hits in all)."""
        b, terms = self._backend, query_terms(q)
        where, params = _Filter(agent_id, owner, session_id, role).clauses()
        params.update(b.params(terms), limit=limit, offset=offset)
        page = _page_query(b, where, f"{{t}}score {b.rank_order}, {{t}}created_at DESC, {{t}}seq")
        total = text(f"SELECT count(*) FROM {b.source} WHERE {b.match} AND {where}")

        def run(conn: Connection) -> tuple[list[dict[str, Any]], int]:
            hits = [_hit(r) for r in conn.execute(page, params).all()]
            return hits, int(conn.execute(total, params).scalar_one())
        return await self.db.read(run)

    async def sessions(self, agent_id: str, owner: Any, q: str, *, limit: int = 20,
                       offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Sessions with matching messages, the best match first: (one page; how many in all).
        Each with its number of matching messages and its first one (in history order)."""
        b, terms = self._backend, query_terms(q)
        where, params = _Filter(agent_id, owner).clauses()
        params.update(b.params(terms), limit=limit, offset=offset)
        # Materialised: SQLite refuses bm25() inside an aggregate of a flattened subquery.
        matches = (f"WITH h AS MATERIALIZED (SELECT m.session_id AS session_id, {b.rank} AS score "
                   f"FROM {b.source} WHERE {b.match} AND {where}) ")
        page = text(
            f"{matches}SELECT h.session_id, count(*) AS n, {b.best}(h.score) AS best, s.created_at, "
            "s.last_activity, s.message_count, s.title "
            "FROM h JOIN sessions s ON s.agent_id = :agent AND s.id = h.session_id "
            "GROUP BY h.session_id, s.created_at, s.last_activity, s.message_count, s.title "
            f"ORDER BY best {b.rank_order}, s.last_activity DESC LIMIT :limit OFFSET :offset")
        total = text(f"{matches}SELECT count(DISTINCT h.session_id) FROM h")
        first = _page_query(b, "m.agent_id = :agent AND m.session_id = :session", "{t}seq")
        def run(conn: Connection) -> tuple[list[dict[str, Any]], int]:
            results = []
            for row in conn.execute(page, params).all():
                hit = conn.execute(first, {**params, "session": row.session_id, "limit": 1, "offset": 0}).first()
                results.append({"sessionId": row.session_id, "matchCount": int(row.n),
                                "firstMatch": _hit(hit) if hit is not None else None,
                                "metadata": {"createdAt": row.created_at, "lastActivity": row.last_activity,
                                             "messageCount": row.message_count, "title": row.title}})
            return results, int(conn.execute(total, params).scalar_one())
        return await self.db.read(run)
