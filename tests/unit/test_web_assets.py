"""The web UI's files (src/switchyard/web/): the vendored libraries are the versions the
lockfile pins, unedited (and identical to the installed packages when web/node_modules exists),
the page has no inline script or style and names no other origin, every file it loads exists,
our scripts never write HTML from strings, and the package data ships every file."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "switchyard" / "web"
VENDOR = WEB / "vendor"
TOOLCHAIN = ROOT / "web"


def _versions() -> dict[str, dict[str, str]]:
    return json.loads((VENDOR / "VERSIONS.json").read_text())


def test_vendored_files_are_the_locked_versions_and_unedited() -> None:
    lock = json.loads((TOOLCHAIN / "package-lock.json").read_text())["packages"]
    pins = json.loads((TOOLCHAIN / "package.json").read_text())["devDependencies"]
    versions = _versions()
    assert {v["package"] for v in versions.values()} == set(pins)
    for name, entry in versions.items():
        locked = lock[f"node_modules/{entry['package']}"]["version"]
        assert entry["version"] == locked == pins[entry["package"]], (
            f"{name}: vendored {entry['version']}, locked {locked}: run `npm ci && npm run vendor` in web/")
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name} differs from what web/vendor.mjs copied: re-vendor it"
    shipped = {p.name for p in VENDOR.iterdir()} - {"VERSIONS.json"}
    assert shipped == set(versions), "a vendored file is not recorded in VERSIONS.json (or the reverse)"


def test_vendored_files_match_the_installed_packages_when_present() -> None:
    if not (TOOLCHAIN / "node_modules").is_dir():
        pytest.skip("web/node_modules is absent (run `npm ci` in web/ to compare against the packages)")
    for name, entry in _versions().items():
        source = TOOLCHAIN / "node_modules" / entry["package"] / entry["source"]
        assert source.read_bytes() == (VENDOR / name).read_bytes(), f"{name} is stale: run `npm run vendor` in web/"


def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_files() -> None:
    html = (WEB / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/ui/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    assert not re.search(r"\sstyle\s*=", html) and "<style" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "a file from another origin"
    for ref in re.findall(r"(?:src|href)=\"/ui/([^\"]+)\"", html):
        assert (WEB / ref).is_file(), f"index.html loads /ui/{ref}, which is not in the package"


def test_our_scripts_never_write_html_from_strings_and_their_imports_exist() -> None:
    for script in (WEB / "js").glob("*.js"):
        text = script.read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert banned not in text, f"{script.name} uses {banned}"
        for ref in re.findall(r"from \"\./([^\"]+)\"", text):
            assert (WEB / "js" / ref).is_file(), f"{script.name} imports a missing ./{ref}"


def test_the_package_data_ships_every_ui_file() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["switchyard"]
    for path in WEB.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(WEB.parent).as_posix()
            assert any(fnmatch.fnmatchcase(relative, g) and relative.count("/") == g.count("/")
                       for g in globs), f"{relative} is not in [tool.setuptools.package-data]"
