#!/usr/bin/env python3
"""Latency of `deployc lsp` as an editor sees it, over the binary's stdio.

* diagnostics: a 2,000-line program is open; each round edits one threshold and times
  from sending `didChange` to receiving `publishDiagnostics` for that version (with the
  server's default, edits coalesced and no delay, and with a client-set 20 ms debounce);
* completion: times `textDocument/completion` after `when ` in the same file.

Usage: bench.py [DEPLOYC] [--rounds N]. Prints p50, p95 and max in milliseconds.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def program(lines: int) -> str:
    """A program of about `lines` lines: a header and as many canary releases as fit."""
    head = (ROOT / "examples" / "checkout.deploy").read_text().split('release "2.1.0"')[0]
    out = [head]
    n = 0
    while sum(s.count("\n") for s in out) < lines:
        n += 1
        out.append(
            f'release "3.{n}.0" {{\n'
            "  strategy = canary {\n"
            "    analysis every 1m, no_data fail after 3\n"
            "    step 5%   for 10m  require error_rate < 1%   and latency_p95 < 500ms\n"
            "    step 50%  for 15m  require error_rate < 0.5%\n"
            "    step 100%          require error_rate < 0.1%\n"
            "  }\n"
            "  migrations {\n"
            f"    expand add_column_{n} {{\n"
            f'      up   = sql "ALTER TABLE users ADD COLUMN c{n} INT"\n'
            f'      down = sql "ALTER TABLE users DROP COLUMN c{n}"\n'
            "    }\n"
            "  }\n"
            "  rollback {\n"
            "    auto when error_rate > 5% for 5m\n"
            "  }\n"
            "  comms {\n"
            "    on done notify releases std.comms.done\n"
            "  }\n"
            "}\n\n"
        )
    return "".join(out)


class Client:
    def __init__(self, cmd, options):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 0
        self.request("initialize", {"processId": os.getpid(), "capabilities": {}, "initializationOptions": options})
        self.notify("initialized", {})

    def send(self, message):
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self):
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            m = self.read()
            if m.get("id") == rid and "method" not in m:
                return m.get("result")

    def wait_diagnostics(self, uri, version):
        while True:
            m = self.read()
            if m.get("method") == "textDocument/publishDiagnostics":
                p = m["params"]
                if p["uri"] == uri and p.get("version") == version:
                    return p["diagnostics"]

    def close(self):
        self.request("shutdown", None)
        self.notify("exit", None)
        self.proc.wait(timeout=10)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def report(name, samples):
    ms = [s * 1000 for s in samples]
    print(f"{name:48} p50 {percentile(ms, 50):6.1f} ms   p95 {percentile(ms, 95):6.1f} ms   max {max(ms):6.1f} ms   ({len(ms)} rounds)")


def main():
    args = sys.argv[1:]
    rounds = 200
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i : i + 2]
    deployc = args[0] if args else str(ROOT / "target" / "debug" / "deployc")
    text = program(2000)
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / ".git").mkdir()
        path = pathlib.Path(tmp) / "big.deploy"
        path.write_text(text)
        uri = path.as_uri()
        lines = text.splitlines()
        print(f"{len(lines)} lines, {len(text.encode())} bytes")
        # The threshold edited each round: `5%` of the last release's rollback trigger.
        row = max(i for i, l in enumerate(lines) if "auto when error_rate > 5% for 5m" in l)
        col = lines[row].index("5%")
        for label, options in [("default (no delay)", {}), ("debounceMs 20", {"debounceMs": 20})]:
            client = Client([deployc, "lsp"], options)
            client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "deploy", "version": 1, "text": text}})
            client.wait_diagnostics(uri, 1)
            samples = []
            for version in range(2, rounds + 2):
                digit = str(version % 9 + 1)
                start = time.perf_counter()
                client.notify("textDocument/didChange", {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"range": {"start": {"line": row, "character": col}, "end": {"line": row, "character": col + 1}}, "text": digit}],
                })
                client.wait_diagnostics(uri, version)
                samples.append(time.perf_counter() - start)
            report(f"diagnostics after an edit ({label})", samples)
            if options:
                when = lines[row].index("when ") + len("when ")
                samples = []
                for _ in range(rounds):
                    start = time.perf_counter()
                    result = client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": row, "character": when}})
                    samples.append(time.perf_counter() - start)
                assert any(i["label"] == "error_rate" for i in result), result
                report("completion of a metric after `when `", samples)
            client.close()


if __name__ == "__main__":
    main()
