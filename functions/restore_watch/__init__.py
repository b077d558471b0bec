"""The dcs-restore-watch Lambda function: triggers in, failed restores to SQS, one payload out."""
