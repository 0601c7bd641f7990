"""Shared by the fixture generators (scripts/make-fixtures.py, scripts/make-dtw-fixtures.py)."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_groups(groups, argv):
    """Run every group whose name starts with one of argv[1:] (all when none is given) and write
    each {relative path: payload} it returns as compact JSON under test/fixtures/, atomically."""
    prefixes = argv[1:] or [""]
    for group, make in groups.items():
        if not any(group.startswith(p) for p in prefixes):
            continue
        for rel, payload in make().items():
            path = os.path.join(ROOT, "test", "fixtures", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                # floats are written with repr, which reads back to the same double
                json.dump(payload, f, allow_nan=False, separators=(",", ":"))
                f.write("\n")
            os.replace(tmp, path)
            print(f"{group}: wrote test/fixtures/{rel} ({os.path.getsize(path)} bytes)", file=sys.stderr)


def base_provenance(generator, group, seed):
    """The provenance fields every fixture file carries; generators add their libraries' versions."""
    import datetime
    import platform

    import numpy as np

    return {
        "generator": generator,
        "group": group,
        "seed": seed,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
