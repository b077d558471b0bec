"""schemathesis against ``dcs-restore-watch serve``, driven by the OpenAPI document the API serves.

Every generated request, valid or not (its examples, boundary values and a fuzzing phase), must
get an answer that is no 5xx and that matches the document: status code, content type, headers
and body schema. Two of schemathesis's checks do not apply:

- ``positive_data_acceptance``: a schema-valid time string can still be no date (``20241399...``),
  and a window can be reversed or too long; those are 400s naming the field, by design.
- ``unsupported_method``: API Gateway answers a method the template does not route (404) before
  the function runs; ``serve`` does the same, where schemathesis expects 405.

schemathesis runs as its command (its pytest plugin does not support this pytest), seeded, so a
run is repeatable.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = 200
SEED = "20261128"


@pytest.mark.long
def test_every_generated_request_gets_a_documented_answer_and_no_5xx(served: str, tmp_path: Path) -> None:
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{served}/openapi.json"),
        *("--checks", "all", "--exclude-checks", "positive_data_acceptance,unsupported_method"),
        *("--max-examples", str(EXAMPLES), "--seed", SEED, "--request-timeout", "60", "--no-color"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)  # its cache
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated is not None, report
    assert int(generated[1]) == int(generated[2]) >= EXAMPLES  # every case ran and passed: the count is the record
