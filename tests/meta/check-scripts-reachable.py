#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-scripts-reachable.py SOURCE_DIR

Every script under SOURCE_DIR/tests (*.sh, *.py, or any file starting with "#!") must be run by
`make check` or `make demo`: named by the Makefile or a CMakeLists.txt (ctest, the fuzz runner),
or by a script that itself is, or listed in HELPERS below with the reason nothing names it. A
script nobody runs cannot fail, so it is found here rather than left to rot.

A name counts when a line that is not a comment spells the script's path from the repository
root, or from the naming file's folder ("../lib/prerequisites.sh", "scenarios/x.sh"), or its
bare file name when no other script has that name. Exit status: 0 all reachable, 1 otherwise.
"""

import os
import sys

# Scripts nothing names, and why they are kept: none today.
HELPERS = {}


def code_lines(path):
    """The file's text without full-line comments (a name in a comment runs nothing)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "\n".join(l for l in f.read().splitlines() if not l.lstrip().startswith("#"))
    except OSError:
        return ""


def is_script(path):
    if path.endswith((".sh", ".py")):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def main():
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    root = os.path.realpath(sys.argv[1])
    scripts, roots = [], [os.path.join(root, "Makefile"), os.path.join(root, "CMakeLists.txt")]
    for top in ("tests", "cmake", "src", "arch"):
        for folder, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                path = os.path.join(folder, name)
                if name == "CMakeLists.txt" or name.endswith(".cmake"):
                    roots.append(path)
                elif top == "tests" and is_script(path):
                    scripts.append(path)
    by_name = {}
    for s in scripts:
        by_name.setdefault(os.path.basename(s), []).append(s)

    def named_by(text, namer, script):
        rel_root = os.path.relpath(script, root)
        rel_here = os.path.relpath(script, os.path.dirname(namer))
        if rel_root in text or ("/" in rel_here and rel_here in text):
            return True
        name = os.path.basename(script)
        if rel_here == name and name in text:
            return True  # a sibling
        return len(by_name[name]) == 1 and name in text

    reachable, queue = set(), [r for r in roots if os.path.exists(r)]
    while queue:
        namer = queue.pop()
        text = code_lines(namer)
        for s in scripts:
            if s not in reachable and named_by(text, namer, s):
                reachable.add(s)
                queue.append(s)

    orphans = []
    for s in sorted(scripts):
        rel = os.path.relpath(s, root)
        if s in reachable:
            continue
        if rel in HELPERS:
            print(f"check-scripts-reachable: {rel}: helper: {HELPERS[rel]}")
            continue
        orphans.append(rel)
    for rel in orphans:
        print(f"check-scripts-reachable: {rel} is run by nothing `make check` runs (wire it into "
              f"ctest, or remove it, or list it in HELPERS with the reason)", file=sys.stderr)
    print(f"check-scripts-reachable: {len(scripts)} scripts, {len(reachable)} reachable, "
          f"{len(orphans)} orphaned")
    return 1 if orphans else 0


if __name__ == "__main__":
    sys.exit(main())
