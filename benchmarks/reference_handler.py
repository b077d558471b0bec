"""The reference for the first-invocation benchmark: the watch written on the official SDK, as a user would.

Powertools for logs and metrics, boto3 clients made at import as AWS advises, the credentials read
from Secrets Manager on first use, the window paged with ``ListRestoreRecords``, failed restores sent
to SQS in batches of ten, and every record returned. Deployed alone in ``/var/task`` (the benchmark
copies it there), it needs ``huaweicloudsdkdcs`` and ``aws-lambda-powertools`` installed beside it and
the runtime's boto3.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkdcs.v2 import DcsClient, ListRestoreRecordsRequest

PAGE = 1000
logger = Logger()
metrics = Metrics()
secrets = boto3.client("secretsmanager")
sqs = boto3.client("sqs")
_dcs: Any = None


def dcs() -> Any:
    global _dcs  # one client per container
    if _dcs is None:
        secret = json.loads(secrets.get_secret_value(SecretId=os.environ["DCS_CREDENTIALS_SECRET"])["SecretString"])
        credentials = BasicCredentials(secret["ak"], secret["sk"], os.environ["DCS_PROJECT_ID"])
        _dcs = (
            DcsClient.new_builder().with_credentials(credentials).with_endpoints([os.environ["DCS_ENDPOINT"]]).build()
        )
    return _dcs


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records: list[Any] = []
    offset, total = 0, 1
    while offset < total:
        request = ListRestoreRecordsRequest(
            instance_id=event["instance_id"],
            begin_time=event["begin_time"],
            end_time=event["end_time"],
            offset=offset,
            limit=PAGE,
        )
        response = dcs().list_restore_records(request)
        records.extend(response.restore_record_response or [])
        total, offset = response.total_num or 0, offset + PAGE
    failed = [record for record in records if record.status == "failed"]
    for start in range(0, len(failed), 10):
        sqs.send_message_batch(
            QueueUrl=os.environ["FAILED_RESTORES_QUEUE_URL"],
            Entries=[
                {"Id": str(index), "MessageBody": json.dumps(record.to_dict())}
                for index, record in enumerate(failed[start : start + 10])
            ],
        )
    for status in ("waiting", "restoring", "succeed", "failed"):
        count = sum(1 for record in records if record.status == status)
        metrics.add_metric(name=f"Records{status.capitalize()}", unit=MetricUnit.Count, value=count)
    logger.info("restores watched", extra={"instance_id": event["instance_id"], "total": total, "failed": len(failed)})
    return {"instance_id": event["instance_id"], "total": total, "records": [record.to_dict() for record in records]}
