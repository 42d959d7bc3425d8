#!/usr/bin/env python3
"""test-failures.py BUILD_DIR: after a failed `meson test`, print each
failed test's failed TAP subtests (with the three lines before each) from
BUILD_DIR/meson-logs/testlog.json, so that the end of a CI log says what
failed (meson's --print-errorlogs shows only a test's stderr tail)."""
import json
import sys

def main():
    path = sys.argv[1] + "/meson-logs/testlog.json"
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"test-failures: {path}: {e.strerror}", file=sys.stderr)
        return 1
    print("==== failed tests and subtests (from %s) ====" % path)
    for raw in lines:
        try:
            t = json.loads(raw)
        except ValueError:
            continue
        if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
            continue
        print("---- %s: %s (%.0f s)" % (t.get("name"), t.get("result"), t.get("duration", 0)))
        out = (t.get("stdout") or "").splitlines()
        shown = 0
        for i, l in enumerate(out):
            if l.startswith("not ok") or l.startswith("Bail out!"):
                for c in out[max(0, i - 3):i]:
                    print("  " + c)
                print("  " + l)
                shown += 1
        if not shown:
            for l in out[-15:]:
                print("  " + l)
    return 0

sys.exit(main())
