"""A local stand-in for the HTTP API: each request becomes an API Gateway HTTP API v2 event."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .invoke import LocalContext


def http_api_event(method: str, target: str, headers: dict[str, str]) -> dict[str, Any]:
    """The payload v2 event API Gateway would send for this request."""
    parts = urlsplit(target)
    path = unquote(parts.path)
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value  # as API Gateway joins repeats
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.query,
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("Host", "localhost"),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("User-Agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    return event


def make_server(port: int) -> ThreadingHTTPServer:
    """A loopback HTTP server that hands every GET to the real Lambda handler."""
    from restore_watch.app import lambda_handler

    container = threading.Lock()  # one request at a time, as in one Lambda container

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Logged once the handler has answered, with its time, in ``do_GET``."""

        def do_GET(self) -> None:
            started = time.monotonic()
            event = http_api_event("GET", self.path, dict(self.headers.items()))
            with container:
                answer = lambda_handler(event, LocalContext())
            body = str(answer.get("body") or "").encode()
            self.send_response(int(answer.get("statusCode", 502)))
            for name, value in (answer.get("headers") or {}).items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.log_message('"GET %s" %s %.2f s', self.path, answer.get("statusCode"), time.monotonic() - started)

        def _no_route(self) -> None:
            """What API Gateway answers itself for a method the template routes nowhere: the function never sees it.

            Any request body is left unread, so the connection closes after the answer.
            """
            body = b'{"message":"Not Found"}'
            self.close_connection = True
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.log_message('"%s %s" 404 (no route)', self.command, self.path)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # every method but GET, whatever its name (POST, TRACE, QUERY...)
                return self._no_route
            raise AttributeError(name)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server
