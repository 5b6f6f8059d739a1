#!/usr/bin/env node
// TextMate snapshot tests over the project's own `.deploy` files.
//
// Sources: examples/, stdlib/ (recursively), tests/fixtures/parse/ok/ and test/snap-extra/ in
// this extension. Snapshots live in test/snap/<path from the repository root>.snap.
//
// * A file whose committed snapshot was taken from its current text must tokenize exactly as
//   the snapshot says (vscode-tmgrammar-snap); any grammar change that alters it fails.
// * A file that is new, or whose text changed since its snapshot, cannot be compared; it must
//   still tokenize cleanly: no `invalid.*` scope and no non-blank text left without a scope.
//   Set DEPLOY_SNAP_STRICT=1 to make a missing or outdated snapshot an error (editors/test.sh,
//   and so CI, does).
//
// `node test/snap.js --updateSnapshot` (npm run test:snap:update) rewrites every snapshot.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawnSync } = require("child_process");

const ext = path.resolve(__dirname, "..");
const root = path.resolve(ext, "..", "..");
const snapDir = path.join(__dirname, "snap");
const update = process.argv.includes("--updateSnapshot") || process.argv.includes("-u");
const strict = process.env.DEPLOY_SNAP_STRICT === "1";
const sourceDirs = ["examples", "stdlib", "tests/fixtures/parse/ok", "editors/vscode/test/snap-extra"];

function walk(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (entry.isFile() && entry.name.endsWith(".deploy")) out.push(p);
  }
  return out;
}

function sourceLinesOf(snapText) {
  return snapText
    .split("\n")
    .filter((l) => l.startsWith(">"))
    .map((l) => l.slice(1));
}

function snap(args, files) {
  const bin = path.join(ext, "node_modules", ".bin", "vscode-tmgrammar-snap");
  const grammars = ["syntaxes/deploy.tmLanguage.json", "node_modules/tm-grammars/grammars/sql.json"];
  const argv = [...args, "-s", "source.deploy"];
  for (const g of grammars) argv.push("-g", path.join(ext, g));
  const r = spawnSync(bin, [...argv, ...files], { cwd: ext, stdio: "inherit" });
  return r.status === 0;
}

// Checks a generated snapshot for tokens that are invalid or carry no scope of their own.
function cleanTokenization(snapText, rel) {
  const problems = [];
  let src = "";
  let lineNo = 0;
  for (const line of snapText.split("\n")) {
    if (line.startsWith(">")) {
      src = line.slice(1);
      lineNo += 1;
      continue;
    }
    if (!line.startsWith("#")) continue;
    const m = /^#(\s*)(\^+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const start = m[1].length + 1 - 1;
    const text = src.slice(start, start + m[2].length);
    const scopes = m[3].trim().split(/\s+/);
    if (scopes.some((s) => s.startsWith("invalid"))) {
      problems.push(`${rel}:${lineNo}:${start + 1}: ${JSON.stringify(text)} is ${scopes.join(" ")}`);
    } else if (scopes.length === 1 && text.trim() !== "") {
      problems.push(`${rel}:${lineNo}:${start + 1}: ${JSON.stringify(text)} has no scope`);
    }
  }
  return problems;
}

const sources = sourceDirs.flatMap((d) => walk(path.join(root, d), [])).sort();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-snap-"));
const compare = [];
const fresh = [];
for (const file of sources) {
  const rel = path.relative(root, file);
  const copy = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(copy), { recursive: true });
  fs.copyFileSync(file, copy);
  const committed = path.join(snapDir, rel + ".snap");
  const text = fs.readFileSync(file, "utf8");
  const current = text.split(/\r?\n/);
  if (!update && fs.existsSync(committed)) {
    const snapText = fs.readFileSync(committed, "utf8");
    if (JSON.stringify(sourceLinesOf(snapText)) === JSON.stringify(current)) {
      fs.copyFileSync(committed, copy + ".snap");
      compare.push(rel);
      continue;
    }
  }
  fresh.push(rel);
}

let ok = true;
if (compare.length > 0) {
  console.log(`== comparing ${compare.length} snapshot(s)`);
  ok = snap([], compare.map((r) => path.join(tmp, r))) && ok;
}
if (fresh.length > 0) {
  console.log(`== generating ${fresh.length} snapshot(s)`);
  ok = snap(["-u"], fresh.map((r) => path.join(tmp, r))) && ok;
  const problems = [];
  for (const rel of fresh) {
    const generated = fs.readFileSync(path.join(tmp, rel + ".snap"), "utf8");
    problems.push(...cleanTokenization(generated, rel));
    if (update) {
      const dest = path.join(snapDir, rel + ".snap");
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, generated);
    }
  }
  if (problems.length > 0) {
    ok = false;
    console.error("tokenization problems:\n  " + problems.join("\n  "));
  }
  if (!update) {
    const msg = `snapshot missing or outdated for: ${fresh.join(", ")}; run \`npm run test:snap:update\` in editors/vscode and review the diff`;
    if (strict) {
      ok = false;
      console.error(msg);
    } else {
      console.warn("warning: " + msg);
    }
  }
}
if (update) {
  // Drop snapshots whose source file is gone.
  const wanted = new Set(sources.map((f) => path.join(snapDir, path.relative(root, f) + ".snap")));
  const stale = [];
  (function sweep(dir) {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) sweep(p);
      else if (p.endsWith(".snap") && !wanted.has(p)) stale.push(p);
    }
  })(snapDir);
  for (const s of stale) fs.unlinkSync(s);
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log(ok ? `snapshots: ${sources.length} file(s) ok` : "snapshots: FAILED");
process.exit(ok ? 0 : 1);
