"""Production gunicorn settings for Improvement Pulse (``scripts/serve.sh`` uses this file).

Every value can be overridden from the environment, so one file serves a small VM and a
large one:

* ``WEB_CONCURRENCY`` workers (default ``cores + 1``): separate processes, so a crashed
  or killed worker is replaced by the master while the others keep serving. Not the usual
  ``2 x cores + 1`` for sync workers: these are threaded, and on 2 cores 3 workers served
  about 20% more survey submissions a second than 5 (``benchmarks/serving.py``), since
  each extra process brings its own caches and connections to the same cores.
* ``GUNICORN_THREADS`` threads per worker (default 4, ``gthread`` worker): a request that
  waits on PostgreSQL does not block the worker. Keep ``workers x threads`` under the
  database pool (10 + 10 overflow per worker, see ``survey_app/database.py``) and twice
  ``workers x threads`` (a request can hold a connection of the ORM's pool and one of the
  respondents' statement pool) under PostgreSQL's ``max_connections`` (100 by default)
  divided by the number of app hosts.
* ``GUNICORN_TIMEOUT`` (default 30 s): a worker silent for this long is killed and replaced.
* ``GUNICORN_GRACEFUL_TIMEOUT`` (default 30 s): on restart/stop, requests in flight (for
  instance a submission being stored) get this long to finish.
* ``GUNICORN_KEEPALIVE`` (default 5 s) behind a reverse proxy on the same network.
* ``GUNICORN_BIND`` (default ``127.0.0.1:8000``): put a TLS-terminating proxy in front.
* ``TRUSTED_PROXIES`` (default 0) and ``FORWARDED_ALLOW_IPS`` (default ``127.0.0.1,::1``):
  behind one proxy set ``TRUSTED_PROXIES=1`` and list the proxy's address, so each client
  is counted by its own address by the sign-in lockouts and rate limits (see below).

Logs go to stderr. The access log never contains a query string, a client address, a
referrer, a personal-link token (``/i/<token>`` is logged as ``/i/…``), a response size or
a duration (both vary with the answers a page shows or stores); the atoms for them are not
even built, so no format can log them. The app's own
request log (logger ``survey_app.request``, one JSON line per request with a request id) is
switched on here at INFO.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() + 1)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))  # 0: never recycle
max_requests_jitter = max_requests // 10
wsgi_app = "survey_app:create_app()"
# The app is imported in each worker (not preloaded): the database pool is never shared
# across a fork, and a worker that dies takes only its own connections with it.
preload_app = False
# gunicorn 24+ opens a control socket in ~/.gunicorn; not used here, and two instances
# on one host would share its path.
control_socket_disable = True
# Behind a reverse proxy, TRUSTED_PROXIES says how many proxies append X-Forwarded-For,
# -Proto and -Host (the app applies Werkzeug's ProxyFix for that many hops), and
# FORWARDED_ALLOW_IPS which peers are those proxies (default: one on this host). Both the
# app and gunicorn (for its own X-Forwarded-Proto handling) believe the headers only from
# those peers; with TRUSTED_PROXIES=0 (the default) neither believes anyone.
trusted_proxies = int(os.environ.get("TRUSTED_PROXIES") or "0")
forwarded_allow_ips = (
    os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1") if trusted_proxies else ""
)

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")  # "" or "none" to switch it off
if accesslog.lower() in {"", "none"}:
    accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# No %(h)s (address), %(r)s/%(U)s/%(q)s are rewritten below, no referrer or user agent, and
# nothing that varies with the answers: no response size (%(b)s/%(B)s: a check page's size
# gives away what it shows) and no duration (%(D)s/%(M)s/%(T)s/%(L)s).
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s rid=%({x-request-id}o)s'
# No log format here names the thread or the process: do not collect them for every line
# (the Python logging HOWTO's "Optimization" section). The caller's file and line are still
# looked up: switching that off needs the private ``logging._srcfile``, for two records a
# request, far under the 5% gain that would justify a library's internals.
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

_TOKEN_PATH = re.compile(r"^/i/[^/]+")
# Response headers a format may name: Content-Length and Set-Cookie vary with the answers.
_LOGGABLE_HEADERS = frozenset({"x-request-id"})


def safe_path(path: str) -> str:
    """The path as logged: no query string, personal-link tokens replaced by ``…``."""
    return _TOKEN_PATH.sub("/i/…", path.split("?", 1)[0])


class SafeAccessLogger(Logger):
    """gunicorn's access logger, with nothing personal to log: the request line stripped of
    query strings and tokens, and no request headers or WSGI environ among the atoms (so no
    format can log a cookie, an address or a user agent). Building only these atoms is also
    far cheaper than gunicorn's, which copies every header and environ entry per request."""

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        if self.access_log.isEnabledFor(logging.INFO):
            super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]  # noqa: ARG002 (gunicorn's signature)
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        method = environ.get("REQUEST_METHOD", "-")
        protocol = environ.get("SERVER_PROTOCOL", "-")
        path = safe_path(environ.get("PATH_INFO", ""))
        atoms = {
            "h": "-",
            "l": "-",
            "u": "-",
            "t": self.now(),
            "r": f"{method} {path} {protocol}",
            "s": status,
            "m": method,
            "U": path,
            "q": "",
            "H": protocol,
            "b": "-",
            "B": "-",
            "f": "-",
            "a": "-",
            "T": "-",
            "D": "-",
            "M": "-",
            "L": "-",
            "p": f"<{os.getpid()}>",
        }
        atoms.update(
            {
                f"{{{name.lower()}}}o": value
                for name, value in resp.headers
                if name.lower() in _LOGGABLE_HEADERS
            }
        )
        return atoms


logger_class = SafeAccessLogger


def on_starting(server):  # type: ignore[no-untyped-def]
    """Warn when the rate-limit counters would be per worker: sign-in lockouts and the
    survey submit brake would then be as many times more lenient as there are workers."""
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    if workers > 1 and storage.startswith("memory://"):
        server.log.warning(
            "RATELIMIT_STORAGE_URI is %s with %d workers: rate limits count per worker, "
            "%d times as lenient; set RATELIMIT_STORAGE_URI=redis://...",
            storage,
            workers,
            workers,
        )


logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "survey_app": {
            "level": os.environ.get("PULSE_LOGLEVEL", "INFO"),
            "handlers": ["stderr"],
            "propagate": False,
        },
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        # WARNING switches the access log off: with a logging config gunicorn would log
        # access lines even with accesslog unset
        "gunicorn.access": {
            "level": "INFO" if accesslog else "WARNING",
            "handlers": ["stderr"],
            "propagate": False,
        },
    },
}
