// Copies the browser builds of the pinned libraries (package-lock.json) into the Python
// package, and records each file's version and SHA-256 in vendor/VERSIONS.json, which
// tests/unit/test_web_assets.py checks against the lockfile and the files themselves.
// Run after changing a version: `npm ci && npm run vendor`.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "switchyard", "web", "vendor");
const FILES = [
  ["marked", "lib/marked.umd.js", "marked.js"],
  ["dompurify", "dist/purify.min.js", "purify.min.js"],
  ["@highlightjs/cdn-assets", "highlight.min.js", "highlight.min.js"],
  ["@highlightjs/cdn-assets", "styles/github.min.css", "hljs-light.min.css"],
  ["@highlightjs/cdn-assets", "styles/github-dark.min.css", "hljs-dark.min.css"],
];

mkdirSync(out, { recursive: true });
const versions = {};
for (const [pkg, from, to] of FILES) {
  const root = join(here, "node_modules", pkg);
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  copyFileSync(join(root, from), join(out, to));
  const sha256 = createHash("sha256").update(readFileSync(join(out, to))).digest("hex");
  versions[to] = { package: pkg, version, source: from, sha256 };
}
writeFileSync(join(out, "VERSIONS.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`vendored ${FILES.length} files into ${out}`);
