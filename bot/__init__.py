"""QuantConnect deploy bot for Slack."""
