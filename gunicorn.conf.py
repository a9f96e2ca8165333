"""gunicorn reads this file from the directory it starts in: `gunicorn 'bulletin:create_app()'` run from the project's
folder warns at start-up when several workers would keep their rate-limit counts apart (no REDIS_URL)."""

import os

from bulletin.config import shared_state_warning


def when_ready(server):
    """Called once the master process is ready, before the workers start."""
    warning = shared_state_warning(server.cfg.workers, os.environ.get("REDIS_URL"))
    if warning:
        server.log.warning(warning)
