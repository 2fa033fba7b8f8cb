"""The cost of the built-in tools' safety, against plain Python doing the same work.

    python bench/tools_sandbox.py [N]

- read_file through the tool (argument validation, path resolution, O_NOFOLLOW open and the
  post-open check, a worker thread) against `Path.read_text` of the same small file;
- grep_content over a 300-file tree (walk with per-file sandbox checks, `regex` with a time
  limit) against a plain `os.walk` + `re.search` of the same tree;
- bash_exec of `true` (new process group, capped readers, group kill) against
  `asyncio.create_subprocess_exec("/bin/sh", "-c", "true")`.

Prints the median time per call of each, and the ratio. Not part of the test run.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from switchyard.config.loader import parse_agent  # noqa: E402
from switchyard.tools.builtin import BuiltinDeps, build_builtin_tools  # noqa: E402
from switchyard.tools.context import ToolCallContext  # noqa: E402


async def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


async def main(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="sy-bench-"))
    for i in range(30):
        folder = root / f"pkg{i}"
        folder.mkdir()
        for j in range(10):
            (folder / f"m{j}.py").write_text("".join(f"def f{k}(x):\n    return x + {k}\n" for k in range(40)))
    config = parse_agent({"tools": [{"type": "filesystem-tools"}, {"type": "process-tools"}]}).config
    tooling = build_builtin_tools(config.tools, BuiltinDeps(
        agent_dir=root, protected=[], spawn=lambda w, name: asyncio.ensure_future(w),
        publish=lambda e: asyncio.sleep(0), approvals=lambda: None))
    tools = {t.name: t for t in tooling.tools}
    ctx = ToolCallContext(call_id="b", session_id="b")
    target = root / "pkg0" / "m0.py"

    async def plain_read():
        await asyncio.to_thread(target.read_text)

    def plain_grep_sync():
        pattern = re.compile(r"return x \+ 39")
        for folder, _, files in os.walk(root):
            for name in files:
                for line in (Path(folder) / name).read_text().splitlines():
                    pattern.search(line)

    async def plain_grep():
        await asyncio.to_thread(plain_grep_sync)

    async def plain_shell():
        proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "true")
        await proc.wait()

    rows = [
        ("read_file (small file)", lambda: tools["read_file"].call({"file_path": "pkg0/m0.py"}, ctx), plain_read, n),
        ("grep_content (300 files)", lambda: tools["grep_content"].call({"pattern": r"return x \+ 39"}, ctx),
         plain_grep, max(5, n // 20)),
        ("bash_exec `true`", lambda: tools["bash_exec"].call({"command": "true"}, ctx), plain_shell, max(10, n // 5)),
    ]
    print(f"{'call':28} {'tool ms':>9} {'plain ms':>9} {'ratio':>7}")
    for label, tool_call, plain, runs in rows:
        tool_ms, plain_ms = await median_ms(tool_call, runs), await median_ms(plain, runs)
        print(f"{label:28} {tool_ms:9.3f} {plain_ms:9.3f} {tool_ms / plain_ms:7.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
