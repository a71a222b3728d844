"""Loopback fakes of the Slack Web API and the QuantConnect API, real HTTP servers on 127.0.0.1."""
