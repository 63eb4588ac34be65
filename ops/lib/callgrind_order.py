"""The functions of one binary that ran, from a callgrind profile, one symbol per line.

    python3 callgrind_order.py CALLGRIND_OUT BINARY > ORDER

Used by ops/link-order to write lld's --symbol-ordering-file. Reads the profile's `ob=` (object)
and `fn=` (function) lines; callgrind compresses a repeated name to `(id)` after its first
`(id) name`, in `fn=`, `cfn=`, `ob=` and `cob=` lines alike, so every one of them feeds the table.
A function is listed once, the first time its cost block appears under the object BINARY (the
path valgrind ran). Left out: addresses without a symbol (`0x...`), and names the binary defines
more than once (`nm`), such as the Swift compiler's per-file `objectdestroyTm` helpers: lld puts
every section holding such a name first, which in an object file compiled without function
sections is the whole file's code. Needs the profile to be written with --demangle=no: the
linker matches mangled names.
"""

import collections
import re
import subprocess
import sys

COMPRESSED = re.compile(r"\((\d+)\)(?: (.*))?$")


class Names:
    """One of callgrind's compressed name tables (objects or functions)."""

    def __init__(self):
        self.by_id = {}

    def resolve(self, text):
        match = COMPRESSED.match(text)
        if not match:
            return text
        ident, name = match.groups()
        if name is not None:
            self.by_id[ident] = name
        return self.by_id.get(ident, "")


def names_defined_more_than_once(binary):
    listing = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    counts = collections.Counter(line.split()[-1] for line in listing.splitlines() if line.strip())
    return {name for name, count in counts.items() if count > 1}


def ran_functions(lines, binary, skipped):
    objects, functions = Names(), Names()
    current_object = ""
    seen = set()
    for line in lines:
        key, _, value = line.rstrip("\n").partition("=")
        if key == "ob":
            current_object = objects.resolve(value)
        elif key == "cob":
            objects.resolve(value)
        elif key == "cfn":
            functions.resolve(value)
        elif key == "fn":
            name = functions.resolve(value)
            if current_object == binary and name and not name.startswith("0x") and name not in seen and name not in skipped:
                seen.add(name)
                yield name


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: callgrind_order.py CALLGRIND_OUT BINARY")
    skipped = names_defined_more_than_once(argv[2])
    with open(argv[1], encoding="utf-8", errors="replace") as profile:
        for name in ran_functions(profile, argv[2], skipped):
            print(name)


if __name__ == "__main__":
    main(sys.argv)
