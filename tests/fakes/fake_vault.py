"""Loopback fake of HashiCorp Vault: KV v2 read and list, AppRole login, policies, sealing, slow reads."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (the token itself is not kept, only whether one was sent)."""

    method: str
    path: str
    query: dict[str, list[str]]
    had_token: bool
    namespace: str | None


@dataclass
class VaultState:
    """What the fake Vault holds: secrets by path, tokens with the path prefixes they may read, AppRoles."""

    mount: str = "secret"
    approle_mount: str = "approle"
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    approles: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    sealed: bool = False
    # (path prefix, seconds): the next KV read under the prefix sleeps first, one entry per read.
    read_delays: list[tuple[str, float]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def allowed(self, token: str | None, path: str) -> bool:
        """Whether `token` holds a policy prefix covering `path` (Vault's ACL reduced to path prefixes)."""
        prefixes = self.tokens.get(token or "")
        if prefixes is None:
            return False
        return any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in prefixes)


class FakeVault:
    """A real HTTP server on 127.0.0.1 answering the Vault endpoints hvac uses, as Vault documents them."""

    def __init__(self, *, mount: str = "secret", approle_mount: str = "approle") -> None:
        self.state = VaultState(mount=mount, approle_mount=approle_mount)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base address, e.g. http://127.0.0.1:54321."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeVault:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def put(self, path: str, data: dict[str, Any]) -> None:
        """Store a KV v2 secret at `path` (below the mount), replacing any previous version."""
        with self.state.lock:
            self.state.secrets[path.strip("/")] = dict(data)

    def delay_reads(self, path_prefix: str, seconds: float, times: int = 1) -> None:
        """Sleep `seconds` before answering each of the next `times` KV reads under `path_prefix`."""
        with self.state.lock:
            self.state.read_delays.extend([(path_prefix.strip("/"), seconds)] * times)

    def add_token(self, token: str, paths: Iterable[str] = ("",)) -> None:
        """Accept `token` for secret paths starting with any of `paths` ("" = everything)."""
        with self.state.lock:
            self.state.tokens[token] = tuple(paths)

    def revoke(self, token: str) -> None:
        """Forget a token, as Vault does when its TTL runs out."""
        with self.state.lock:
            self.state.tokens.pop(token, None)

    def add_approle(self, role_id: str, secret_id: str, paths: Iterable[str] = ("",)) -> None:
        """Accept an AppRole login whose issued tokens may read `paths`."""
        with self.state.lock:
            self.state.approles[(role_id, secret_id)] = tuple(paths)

    def issued_tokens(self) -> list[str]:
        """Tokens currently valid (those added and those issued by AppRole logins)."""
        with self.state.lock:
            return list(self.state.tokens)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self.state.lock:
            return list(self.state.requests)


@contextmanager
def running_vault(**kwargs: Any) -> Iterator[FakeVault]:
    """A started FakeVault, stopped on exit."""
    vault = FakeVault(**kwargs).start()
    try:
        yield vault
    finally:
        vault.stop()


def _kv_read_body(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": secrets.token_hex(8),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": {
            "data": data,
            "metadata": {
                "created_time": "2024-01-01T00:00:00.000000Z",
                "custom_metadata": None,
                "deletion_time": "",
                "destroyed": False,
                "version": 1,
            },
        },
        "wrap_info": None,
        "warnings": None,
        "auth": None,
    }


def _children(stored: Iterable[str], path: str) -> list[str]:
    prefix = f"{path}/" if path else ""
    names: set[str] = set()
    for candidate in stored:
        if candidate.startswith(prefix) and candidate != path:
            rest = candidate[len(prefix) :]
            head, sep, _ = rest.partition("/")
            names.add(head + sep)
    return sorted(names)


def _handler_for(state: VaultState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without TCP_NODELAY, Nagle holds the body back until the
        # client's delayed ACK (40 ms) on every kept-alive exchange.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def _send(self, status: int, body: dict[str, Any] | None) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _read_json(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else {}

        def _record(self, method: str) -> tuple[str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            with state.lock:
                state.requests.append(
                    RecordedRequest(
                        method=method,
                        path=parts.path,
                        query=query,
                        had_token=bool(self.headers.get("X-Vault-Token")),
                        namespace=self.headers.get("X-Vault-Namespace"),
                    )
                )
            return parts.path, query

        def _dispatch(self, method: str) -> None:
            path, query = self._record(method)
            body = self._read_json() if method in ("POST", "PUT") else {}
            if state.sealed:
                self._send(503, {"errors": ["Vault is sealed"]})
                return
            if method == "POST" and path == f"/v1/auth/{state.approle_mount}/login":
                self._login(body)
                return
            token = self.headers.get("X-Vault-Token")
            data_prefix = f"/v1/{state.mount}/data/"
            meta_prefix = f"/v1/{state.mount}/metadata"
            listing = method == "LIST" or (method == "GET" and query.get("list") == ["true"])
            if method == "GET" and not listing and path.startswith(data_prefix):
                self._read(token, path[len(data_prefix) :].strip("/"))
            elif listing and (path == meta_prefix or path.startswith(meta_prefix + "/")):
                self._list(token, path[len(meta_prefix) :].strip("/"))
            else:
                self._send(404, {"errors": [f'no handler for route "{path}". route entry not found.']})

        def _login(self, body: dict[str, Any]) -> None:
            with state.lock:
                paths = state.approles.get((str(body.get("role_id")), str(body.get("secret_id"))))
                if paths is None:
                    self._send(400, {"errors": ["invalid role or secret ID"]})
                    return
                token = "hvs." + secrets.token_urlsafe(24)
                state.tokens[token] = paths
                state.logins += 1
            self._send(
                200,
                {
                    "request_id": secrets.token_hex(8),
                    "data": None,
                    "auth": {
                        "client_token": token,
                        "accessor": secrets.token_hex(8),
                        "policies": ["default", "qc-bot"],
                        "token_policies": ["default", "qc-bot"],
                        "metadata": {"role_name": "qc-bot"},
                        "lease_duration": 1200,
                        "renewable": True,
                    },
                },
            )

        def _read(self, token: str | None, path: str) -> None:
            with state.lock:
                delay = next((d for d in state.read_delays if path.startswith(d[0])), None)
                if delay is not None:
                    state.read_delays.remove(delay)
            if delay is not None:
                time.sleep(delay[1])
            with state.lock:
                if not state.allowed(token, path):
                    denied = True
                    data = None
                else:
                    denied = False
                    data = state.secrets.get(path)
            if denied:
                self._send(403, {"errors": ["permission denied"]})
            elif data is None:
                self._send(404, {"errors": []})
            else:
                self._send(200, _kv_read_body(data))

        def _list(self, token: str | None, path: str) -> None:
            with state.lock:
                denied = not state.allowed(token, path)
                keys = [] if denied else _children(state.secrets, path)
            if denied:
                self._send(403, {"errors": ["permission denied"]})
            elif not keys:
                self._send(404, {"errors": []})
            else:
                self._send(200, {"request_id": secrets.token_hex(8), "data": {"keys": keys}, "auth": None})

        def do_GET(self) -> None:
            """KV v2 read, or list with ?list=true."""
            self._dispatch("GET")

        def do_POST(self) -> None:
            """AppRole login."""
            self._dispatch("POST")

        def do_LIST(self) -> None:
            """KV v2 metadata list (Vault's own LIST verb)."""
            self._dispatch("LIST")

    return Handler
