"""gunicorn settings for Aksi in production, behind nginx (deploy/nginx.conf).

    .venv/bin/gunicorn -c deploy/gunicorn.conf.py            # wsgi:app

From the environment (systemd: /etc/aksi/aksi.env): AKSI_BIND (default 127.0.0.1:8000),
AKSI_WORKERS (default 2 x CPUs + 1, at most 8), FORWARDED_ALLOW_IPS (default the loopback
nginx). Anything else can be overridden on the command line or in GUNICORN_CMD_ARGS,
which take precedence over this file.
"""

import os
from pathlib import Path

# The checkout: `wsgi.py` and the app's templates and migrations are found from here, from
# whatever directory gunicorn is started in.
chdir = str(Path(__file__).resolve().parent.parent)
wsgi_app = "wsgi:app"

# Loopback only: nginx in front terminates TLS, buffers slow clients and serves /static.
bind = os.environ.get("AKSI_BIND", "127.0.0.1:8000").split(",")


def _workers() -> int:
    raw = os.environ.get("AKSI_WORKERS", "").strip()
    if raw:
        return int(raw)
    try:
        cpus = len(os.sched_getaffinity(0))  # what this process may use (cgroups, taskset)
    except AttributeError:
        cpus = os.cpu_count() or 1
    # Capped: each worker holds the app (~100 MB, more while decoding a photo) and up to a
    # few database connections; two nodes x 8 stay well under PostgreSQL's 100.
    return min(2 * cpus + 1, 8)


workers = _workers()
# Sync workers, one request each: nginx reads the whole request (uploads included) before
# passing it on and buffers the response, so a slow phone on 3G never holds a worker; the
# work itself is CPU and database time, which threads would not make cheaper.
worker_class = "sync"

# A request still running after this is killed and answered 502 by nginx: long enough for
# a cohort's recap PDF or export, short enough that a stuck worker comes back. Imports,
# mail and thumbnails run in the job worker, not here.
timeout = 60
# On SIGTERM / SIGHUP (systemctl stop / reload) requests in flight get this long to finish.
graceful_timeout = 30
# Each worker is replaced after about this many requests (jitter: not all at once), so a
# slow leak in a library never grows without bound.
max_requests = 1000
max_requests_jitter = 100

# Not preloaded: every worker imports the app and opens its own database pool after the
# fork, so no connection is ever shared between processes (preloading would need the
# pools disposed in post_fork), and `systemctl reload` (HUP) starts workers on new code.
# The price is ~1.5 s of start-up per worker, paid at (re)start only.
preload_app = False

# Only nginx may say the request came over HTTPS (X-Forwarded-Proto). The app itself
# trusts X-Forwarded-For/-Proto/-Host through AKSI_PROXY_HOPS; keep both in step.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Request head limits (gunicorn's defaults, stated): a longer line or header is a 400
# before the app sees it. Bodies are limited by nginx and MAX_REQUEST_MB.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Logs to stdout/stderr: journald keeps them (journalctl -u aksi-web). The client address
# is the one nginx sets in X-Forwarded-For; %(M)s is the time taken in ms.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("AKSI_LOG_LEVEL", "info")
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# systemctl is the control interface; gunicorn's own socket would go into $HOME, which
# the unit keeps read-only (and two instances on one host would share it).
control_socket_disable = True
proc_name = "aksi-web"
