"""The one Powertools Logger of the app. Log ids, never message content."""

from aws_lambda_powertools import Logger

logger = Logger(service="inbox")
