"""What the full-text index costs and buys, on SQLite, in one run (ratios, not absolutes):

    python bench/search_bench.py [--sessions 200] [--messages 100]

- write cost: appending turns (user + assistant message, one transaction each, as a turn
  does) with the FTS5 index and its triggers, against the same database with the triggers
  dropped (the store without search);
- search: `MessageSearch.messages` (FTS5, bm25, snippets, owner filter) against the
  reference's way, a case-insensitive substring scan of every message (LIKE '%word%').
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from sqlalchemy import text  # noqa: E402

from switchyard.store import Store  # noqa: E402
from switchyard.store.memories import ALL  # noqa: E402

# A vocabulary with natural-language-like (Zipf) frequencies: a few words in most messages,
# most words in few. Searches are timed for a common, a middling and a rare word.
_rng = random.Random(7)
VOCABULARY = sorted({"".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_rng.randint(3, 9)))
                     for _ in range(6000)})[:5000]
_rng.shuffle(VOCABULARY)
_WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
PROBES = {"common (rank 5)": VOCABULARY[5:10], "middling (rank 200)": VOCABULARY[200:205],
          "rare (rank 3000)": VOCABULARY[3000:3005]}


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(VOCABULARY, _WEIGHTS, k=rng.randint(8, 60)))


async def fill(store: Store, sessions: int, messages: int, seed: int) -> float:
    rng = random.Random(seed)
    started = time.perf_counter()
    for s in range(sessions):
        sid = f"h{seed}-s{s}"
        await store.sessions.create("bench", sid, owner=f"key{s % 10}")
        for m in range(0, messages, 2):
            await store.sessions.append("bench", sid, [
                {"id": f"{s}-{m}", "role": "user", "content": sentence(rng)},
                {"id": f"{s}-{m + 1}", "role": "assistant", "content": sentence(rng)}])
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        indexed = await Store(f"sqlite+aiosqlite:///{tmp}/indexed.db").open()
        plain = await Store(f"sqlite+aiosqlite:///{tmp}/plain.db").open()
        await plain.db.write(lambda conn: [conn.exec_driver_sql(f"DROP TRIGGER {t}") for t in
                                           ("messages_fts_insert", "messages_fts_delete", "messages_fts_update")])
        # Alternate the two so that the machine's noise falls on both alike.
        with_index = without_index = 0.0
        for half in range(2):
            n = args.sessions // 2
            without_index += await fill(plain, n, args.messages, seed=half)
            with_index += await fill(indexed, n, args.messages, seed=half)
        total = args.sessions * args.messages
        print(f"{total} messages in {args.sessions} sessions")
        print(f"append, FTS5 index vs none: {with_index / without_index:.2f}x "
              f"({with_index / total * 1e6:.0f} vs {without_index / total * 1e6:.0f} µs per message)")

        def scan(conn, word: str) -> int:  # noqa: ANN001 - the reference's substring scan
            return len(conn.execute(text("SELECT body FROM messages WHERE agent_id = 'bench' AND "
                                         "lower(text) LIKE :w"), {"w": f"%{word}%"}).all())

        print("search, FTS5 (ranked page of 20 with total and snippets) vs a substring scan:")
        for name, words in PROBES.items():
            fts, like, hits = [], [], []
            for word in words * 3:
                t0 = time.perf_counter()
                _, total = await indexed.search.messages("bench", ALL, word, limit=20)
                t1 = time.perf_counter()
                await indexed.db.read(scan, word)
                t2 = time.perf_counter()
                fts.append(t1 - t0)
                like.append(t2 - t1)
                hits.append(total)
            print(f"  {name:20} {statistics.median(fts) / statistics.median(like):5.2f}x "
                  f"(median {statistics.median(fts) * 1e3:.1f} vs {statistics.median(like) * 1e3:.1f} ms, "
                  f"~{statistics.median(hits):.0f} matching messages)")
        await indexed.close()
        await plain.close()


if __name__ == "__main__":
    asyncio.run(main())
