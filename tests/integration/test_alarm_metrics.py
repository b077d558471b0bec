"""The custom metrics the template's alarms read are the ones the handler emits: name, namespace and dimensions.

An expired credential over HTTP is a 502 and no Lambda error: only the metric tells, so it must reach the alarm.
The handler runs in a process of its own whose environment is set before the import, as Lambda's is, with the
template's own Powertools variables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from devkit.emulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, Emulator
from devkit.seed import generate_records

from ..support import ROOT, clean_environment, load_event

TEMPLATE: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
RUN_HANDLER = """
import json, sys
from devkit.invoke import LocalContext
from restore_watch.app import lambda_handler
print(json.dumps({"answer": lambda_handler(json.loads(sys.argv[1]), LocalContext())}))
"""


def run_handler(event: dict[str, Any], dcs_url: str, sk: str = DEFAULT_SK) -> tuple[Any, list[dict[str, Any]]]:
    """The handler's answer to ``event``, and the EMF blobs it printed."""
    environment = {
        **clean_environment(),
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        "DCS_ENDPOINT": dcs_url,
        "DCS_PROJECT_ID": DEFAULT_PROJECT_ID,
        "DCS_AK": DEFAULT_AK,
        "DCS_SK": sk,
        "FAILED_RESTORES_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/never-called",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN_HANDLER, json.dumps(event)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    [answer] = [line["answer"] for line in lines if "answer" in line]
    return answer, [line for line in lines if "_aws" in line]


def alarm(name: str) -> dict[str, Any]:
    properties: dict[str, Any] = TEMPLATE["Resources"][name]["Properties"]
    return properties


def reaches(blobs: list[dict[str, Any]], watched: dict[str, Any]) -> float:
    """The sum of the watched metric over the blobs that carry it where the alarm looks (namespace, dimensions)."""
    dimensions = {dimension["Name"]: dimension["Value"] for dimension in watched["Dimensions"]}
    total = 0.0
    for blob in blobs:
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        names = {metric["Name"] for metric in directive["Metrics"]}
        if (
            watched["MetricName"] in names
            and directive["Namespace"] == watched["Namespace"]
            and sorted(dimensions) in [sorted(dimension_set) for dimension_set in directive["Dimensions"]]
            and all(blob.get(name) == value for name, value in dimensions.items())
        ):
            total += sum(blob[watched["MetricName"]])
    return total


def test_dcs_refusing_the_credentials_over_http_reaches_its_alarm() -> None:
    # Given DCS, and a secret key it does not know
    with Emulator(generate_records(5)) as url:
        # When a caller asks over HTTP
        answer, blobs = run_handler(load_event("http-get-window.json"), url, sk="not-the-right-secret")
    # Then the answer is a 502, not an error Lambda would count
    assert answer["statusCode"] == 502
    # And the metric the alarm watches goes where it looks, past its threshold
    watched = alarm("DcsAuthErrorsAlarm")
    assert reaches(blobs, watched) > watched["Threshold"]


def test_a_reduced_answer_reaches_its_alarm() -> None:
    # Given 400 records in a window (none failed, so nothing is forwarded) and a payload limit they pass
    records = generate_records(400, failed_every=0, step=timedelta(seconds=40))
    event = {**load_event("direct-invoke.json"), "max_response_bytes": 65_536}
    with Emulator(records) as url:
        answer, blobs = run_handler(event, url)
    assert answer["records_included"] != "all"
    watched = alarm("ResponsesReducedAlarm")
    assert reaches(blobs, watched) >= watched["Threshold"]
