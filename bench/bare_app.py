"""The bare Bolt app as its own process: `python bench/bare_app.py PORT`.

Environment: SIGNING_SECRET, SLACK_API_URL, SLACK_BOT_TOKEN. Its listeners ack(); it is served like the bot
(waitress through bot.server.make_server, same thread count). With BARE_CALLS=1 (and QC_API_URL, QC_USER_ID,
QC_API_TOKEN, BARE_PROJECT_ID, DEPLOY_CHANNEL_ID, SLACK_CHANNEL_INTERVAL_SECONDS) each listener then makes
the Slack and QuantConnect calls the bot makes for that request (_common.SameCalls).
"""

from __future__ import annotations

import os
import sys

from _common import SameCalls, bare_bolt_server, quiet_logs


def main() -> int:
    """Serve until terminated."""
    quiet_logs()
    same_calls = None
    if os.environ.get("BARE_CALLS") == "1":
        same_calls = SameCalls(os.environ["SLACK_API_URL"], os.environ["SLACK_BOT_TOKEN"], os.environ)
    server = bare_bolt_server(
        os.environ["SIGNING_SECRET"],
        os.environ["SLACK_API_URL"],
        os.environ["SLACK_BOT_TOKEN"],
        int(sys.argv[1]),
        same_calls=same_calls,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
