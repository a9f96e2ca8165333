"""gunicorn reads this file from the directory it starts in: `gunicorn 'bulletin:create_app()'` run from the project's
folder warns at start-up when several workers would keep their rate-limit counts apart (no REDIS_URL), and each worker
freezes what the app built at start so that garbage collection stops walking it on every full pass."""

import gc
import os

from bulletin.config import shared_state_warning


def when_ready(server):
    """Called once the master process is ready, before the workers start."""
    warning = shared_state_warning(server.cfg.workers, os.environ.get("REDIS_URL"))
    if warning:
        server.log.warning(warning)


def post_worker_init(worker):
    """Called in each worker once it has loaded the app: the app's objects (routes, templates, translations, models)
    live as long as the worker, so the collector is told to leave them out of its passes."""
    gc.collect()
    gc.freeze()
