"""Cold import of the handler module as Lambda runs it, against the official SDK with Powertools.

Both sides are built for this machine (so that they run) and laid out as Lambda lays them out
(``lambda_tree``): read-only, dated 1980, no bytecode written, ``PYTHONPATH`` the function, then the
layer, then the runtime's packages; each import is timed inside a fresh CPython 3.13. Ours runs twice:
as ``sam build``'s ``python3.13`` method built it (no bytecode at all) and as the Makefile builds it now
(hash-based bytecode). The reference is what a handler written on the official SDK imports,
``huaweicloudsdkdcs`` and Powertools' Logger and Metrics, installed as a user's ``sam build`` installs
them (``pip install --target``, no bytecode).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks import artifacts
from benchmarks.lambda_tree import MARK, Tree, lambda_tree, run_cold
from benchmarks.timing import Row, verdict
from ci.lambda_build import runtime_python

TARGET = 0.30
OURS = "import restore_watch.app"
REFERENCE = (
    "import huaweicloudsdkdcs.v2; from huaweicloudsdkcore.auth.credentials import BasicCredentials; "
    "from aws_lambda_powertools import Logger, Metrics"
)
PROBE = "import json, time; t = time.perf_counter(); {statement}; print({mark!r} + json.dumps(time.perf_counter() - t))"
ENVIRONMENT = {  # what the template sets, and what Lambda does
    "AWS_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": "dcs-restore-watch",
    "POWERTOOLS_METRICS_NAMESPACE": "DcsRestoreWatch",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def seconds(python: str, tree: Tree, statement: str) -> float:
    return float(run_cold(python, tree, PROBE.format(statement=statement, mark=MARK), ENVIRONMENT))


def run(repeats: int) -> list[Row]:
    python = runtime_python()
    built = artifacts.ours(artifacts.HOST)
    runtime = artifacts.runtime(artifacts.HOST)
    sdk = artifacts.reference(artifacts.HOST)
    function, layer = built["RestoreWatchFunction"], built["DcsRestoresLayer"]
    timings: dict[str, list[float]] = {"bare": [], "built": [], "reference": []}
    with (
        tempfile.TemporaryDirectory() as folder,
        lambda_tree(Path(folder, "bare"), function, layer, runtime, bytecode=False) as bare,
        lambda_tree(Path(folder, "built"), function, layer, runtime, bytecode=True) as ours,
        lambda_tree(Path(folder, "reference"), sdk, None, runtime, bytecode=False) as reference,
    ):
        for _ in range(repeats):  # the three take turns: a noisy neighbour slows them alike
            timings["bare"].append(seconds(python, bare, OURS))
            timings["built"].append(seconds(python, ours, OURS))
            timings["reference"].append(seconds(python, reference, REFERENCE))
    bare_s, built_s, reference_s = (sorted(values)[len(values) // 2] for values in timings.values())
    where = "read-only, files dated 1980, no bytecode written, fresh CPython 3.13"
    return [
        Row(
            "cold import of the handler module, as Lambda runs it: no bytecode (sam build's python3.13 method)",
            bare_s,
            reference_s,
            f"reference: {REFERENCE.replace('; ', ', ')}, installed by pip --target, no bytecode; {where}",
        ),
        Row(
            "cold import of the handler module, as Lambda runs it: built with hash-based bytecode",
            built_s,
            reference_s,
            f"the same reference; {bare_s / built_s:.1f}x faster than without bytecode; "
            f"{verdict(built_s / reference_s, TARGET)}",
        ),
    ]
