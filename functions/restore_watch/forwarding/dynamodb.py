"""The ledger's table in DynamoDB: which failed restores were forwarded, keyed by ``pk``.

One item per restore: ``sending`` while an invocation holds a claim on it (until ``lease_until``),
``forwarded`` once SQS acknowledged it (kept ``ttl`` long). A ``sending`` item whose lease has
run out may have been sent (its run died, could not mark it, or lost SQS's answer): the claim
that takes it over says so (``Claim.TAKEN_OVER``), and its message goes out flagged. Imported
only when the forwarder is built: it needs botocore.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from common.aws_errors import aws_error_code, describe

from .errors import LedgerUnavailableError
from .failed_restore import FailedRestore
from .outcome import Claim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# A claim may be taken when there is no item, or when another claim's lease has run out.
_CLAIMABLE = "attribute_not_exists(pk) OR (#state = :sending AND lease_until < :now)"


class DynamoDbLedgerTable:
    """Claim, confirm and release failed restores; every call is one DynamoDB request (botocore retries it)."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table: str,
        *,
        ttl: timedelta = timedelta(days=90),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._ttl = int(ttl.total_seconds())
        self._clock = clock
        # Each claim carries a token of its own: a release gives back only that claim, and a claim
        # that botocore retried after its first attempt landed recognises itself.
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self._dynamodb.close()

    def claim(self, restore: FailedRestore, lease: timedelta) -> Claim:
        """Take the right to send ``restore`` for ``lease``, unless it was forwarded or another claim is live.

        A refused claim returns the item as it is (``ALL_OLD``): no second read is needed to tell
        a forwarded restore from one in flight. A claim that replaced an item returns it too: it
        took over a lapsed claim (``TAKEN_OVER``).
        """
        now = int(self._clock())
        token = uuid.uuid4().hex
        try:
            answer = self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": restore.key},
                    "state": {"S": "sending"},
                    "claimed_by": {"S": token},
                    "lease_until": {"N": str(now + max(1, round(lease.total_seconds())))},
                    "expires_at": {"N": str(now + self._ttl)},
                },
                ConditionExpression=_CLAIMABLE,
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sending": {"S": "sending"}, ":now": {"N": str(now)}},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as error:  # refused, timed out, or the endpoint could not be reached
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise LedgerUnavailableError(f"the ledger could not be written: {describe(error)}") from error
            held: dict[str, Any] = cast(dict[str, Any], cast(ClientError, error).response).get("Item", {})  # ALL_OLD
            if held.get("state", {}).get("S") == "forwarded":
                return Claim.FORWARDED
            if held.get("claimed_by", {}).get("S") != token:
                return Claim.IN_FLIGHT
            # This very claim, put by an attempt whose answer was lost before botocore retried it. What that
            # attempt replaced is lost with its answer: a lapsed claim, perhaps, so it counts as taken over.
            self._tokens[restore.key] = token
            return Claim.TAKEN_OVER
        self._tokens[restore.key] = token
        return Claim.TAKEN_OVER if answer.get("Attributes") else Claim.TAKEN

    def confirm(self, restore: FailedRestore) -> None:
        """Mark ``restore`` forwarded, for ``ttl``: no later claim takes it again."""
        now = int(self._clock())
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": restore.key}},
                UpdateExpression="SET #state = :forwarded, forwarded_at = :now, expires_at = :expires",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":forwarded": {"S": "forwarded"},
                    ":now": {"N": str(now)},
                    ":expires": {"N": str(now + self._ttl)},
                },
            )
        except (ClientError, BotoCoreError) as error:
            # Sent but not marked: once the lease runs out a later run takes it over and sends it again, marked.
            raise LedgerUnavailableError(f"the ledger could not be marked: {describe(error)}") from error
        self._tokens.pop(restore.key, None)

    def release(self, restore: FailedRestore, *, maybe_sent: bool = False) -> bool:
        """Give back the claim this ledger took on an unsent restore, so the retry can claim it at once.

        ``maybe_sent``: SQS's answer to a send of it was lost, so SQS may hold it. The claim is then
        not deleted but lapsed at once: the retry takes it over, and knows to flag its message.
        ``False`` if it could not be given back (the caller says so): the lease then runs out on its
        own, and nothing is lost.
        """
        token = self._tokens.pop(restore.key, None)
        if token is None:
            return True  # never claimed here: nothing to give back
        key = {"pk": {"S": restore.key}}
        ours = "#state = :sending AND claimed_by = :token"  # only this claim: another run's may have replaced it
        names = {"#state": "state"}
        values: dict[str, Any] = {":sending": {"S": "sending"}, ":token": {"S": token}}
        try:
            if maybe_sent:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET lease_until = :lapsed",
                    ConditionExpression=ours,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={**values, ":lapsed": {"N": "0"}},
                )
            else:
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key=key,
                    ConditionExpression=ours,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except (ClientError, BotoCoreError) as error:
            # Not ours any more (the lease ran out and another run took it): nothing to give back.
            return aws_error_code(error) == "ConditionalCheckFailedException"
        return True
