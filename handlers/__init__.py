"""Thin Slack listeners: parse, authorize, ack within 3 s, hand off to bot services."""
