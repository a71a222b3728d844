"""The bare Bolt app as its own process: `python bench/bare_app.py PORT`.

Environment: SIGNING_SECRET, SLACK_API_URL, SLACK_BOT_TOKEN. Its listeners only ack(); it is served like the
bot (waitress through bot.server.make_server, same thread count).
"""

from __future__ import annotations

import os
import sys

from _common import bare_bolt_server, quiet_logs


def main() -> int:
    """Serve until terminated."""
    quiet_logs()
    server = bare_bolt_server(
        os.environ["SIGNING_SECRET"],
        os.environ["SLACK_API_URL"],
        os.environ["SLACK_BOT_TOKEN"],
        int(sys.argv[1]),
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
