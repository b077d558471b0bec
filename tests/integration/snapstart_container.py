"""One container's life under SnapStart, in a fresh interpreter: ``python -m tests.integration.snapstart_container``.

Arguments: the handler's module, the event (JSON) and a file for the outcome. It imports the handler
(init), runs the before-snapshot hooks as Lambda's runtime would, prints ``snapshotted`` and waits for
a line on stdin: the snapshot, during which the test starts DCS and AWS. Then it runs the after-restore
hooks and one invocation, and writes the result and the modules the restore and the invocation imported.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from devkit.invoke import LocalContext


def main() -> None:
    module, event, outcome = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
    handler = importlib.import_module(module).lambda_handler
    from common.snapstart import LOCAL

    LOCAL.snapshot()
    print("snapshotted", flush=True)
    sys.stdin.readline()
    imported = set(sys.modules)
    LOCAL.restore()
    result = handler(event, LocalContext())
    outcome.write_text(json.dumps({"result": result, "new_modules": sorted(set(sys.modules) - imported)}))


if __name__ == "__main__":
    main()
