"""One JSON-RPC transport for every node regchain talks to.

`Rpc` posts JSON-RPC over one kept-alive HTTP/1.1 connection (http.client's, or with
`raw=True` a plain socket, `RawHttpConnection`, which the property machine and the
pipelining below use):

* `call(method, params)`: one request; a node error raises RpcError.
* `batch(calls)`: results in order, an error returned as an RpcError instance. Where the
  node takes JSON-RPC batch arrays (probed once with a two-request batch, or said by the
  network profile: `batches=True/False`), one HTTP request; where it does not (FISCO
  BCOS 3 answers an array with `-32600 Invalid field: `), the requests are pipelined:
  written back to back on the kept-alive connection and their replies read in order,
  so many reads still cost about one round trip.
* `send`/`receive`, `batch_send`/`batch_receive`: a request written now, its reply read
  later (the property machine's pipelining). On a plain-socket connection several may be
  written before their replies are read (in order): the node serves the requests of one
  HTTP/1.1 connection one after the other, which a batch array does not promise (anvil
  runs a batch's requests concurrently).
* Transient failures (connection refused or reset, a timeout, HTTP 502/503/504) of a
  request that changes nothing are retried with exponential back-off (tenacity) for up
  to `retry_s` seconds. A request that writes (`WRITE_METHODS`) is never retried here:
  whether the node took it is unknown, and only the caller (regchain.writer) can find
  out, by reading the sender's nonce, before it sends anything again.

Stdlib only apart from tenacity, which is imported when a retry is needed, so
`src/regchain/node.py` can use it before the virtualenv exists.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import time
from typing import Sequence
from urllib.parse import urlparse

# requests whose effect is unknown when their reply is lost: never retried blindly
WRITE_METHODS = frozenset({"eth_sendRawTransaction", "eth_sendTransaction", "eth_sendTransactionSync",
                           "eth_sendRawTransactionSync", "evm_mine", "anvil_mine", "evm_revert",
                           "evm_snapshot", "evm_increaseTime", "evm_setNextBlockTimestamp"})
RETRY_S = 30.0  # how long a read waits for a node that stopped answering
# bytes of requests written before their replies are read (pipelining without batches):
# below the node's receive buffer, so neither side blocks writing while the other writes
PIPELINE_BYTES = 48 * 1024


# Acknowledge every reply at once (Linux only: None elsewhere). With requests pipelined on
# one connection the node writes the second reply while the first is unacknowledged; a
# node whose socket keeps Nagle's algorithm (anvil) then holds it until our delayed ACK,
# 40 ms later. Measured: 300 pairs of pipelined requests to anvil 13.2 s without, 0.58 s with.
QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class NodeUnreachable(ConnectionError):
    """The node did not answer within the retry time."""


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (OSError, http.client.HTTPException, TimeoutError)) or (
        isinstance(exc, HttpStatusError) and exc.status in (502, 503, 504))


class HttpStatusError(http.client.HTTPException):
    def __init__(self, status: int, body: bytes):
        super().__init__(f"HTTP {status}: {body[:200].decode(errors='replace')}")
        self.status = status


class RpcError(Exception):
    """A JSON-RPC error object (`error`: its code, message, data), or a message and code."""

    def __init__(self, error: dict | str, code: int | None = None):
        if not isinstance(error, dict):
            error = {"message": str(error), "code": code}
        super().__init__(error.get("message", error))
        self.error = error

    @property
    def code(self) -> int | None:
        return self.error.get("code")

    @property
    def revert_data(self) -> bytes | None:
        data = self.error.get("data")
        if isinstance(data, dict):  # some nodes nest it
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        return None


class RawHttpConnection:
    """Keep-alive HTTP/1.1 POSTs over a plain socket, as much of
    http.client.HTTPConnection as `Rpc` uses (request, getresponse().read(),
    close): a request is one send (head and body together, TCP_NODELAY), a
    reply is framed by content-length or chunked encoding (or the connection's
    end); about a fifth of http.client's Python time a round trip."""

    def __init__(self, host: str, port: int, timeout: float | None = None):
        self.sock = socket.create_connection((host, port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if QUICKACK is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        self.host = f"{host}:{port}".encode()
        self.buf = b""
        self.closed = False

    def request(self, method: str, path: str, body: bytes, headers: dict) -> None:
        if self.closed:
            raise ConnectionAbortedError("the node closed the connection")
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host,
                b"Content-Length: " + str(len(body)).encode()]
        head += [f"{k}: {v}".encode() for k, v in headers.items()]
        self.sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)

    def _more(self) -> bool:
        chunk = self.sock.recv(1 << 16)
        if QUICKACK is not None:  # Linux resets it as it pleases: again after every read
            self.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        self.buf += chunk
        return bool(chunk)

    def _line(self) -> bytes:
        while (i := self.buf.find(b"\r\n")) < 0:
            if not self._more():
                raise http.client.IncompleteRead(self.buf)
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._more():
                raise http.client.IncompleteRead(self.buf, n - len(self.buf))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def getresponse(self) -> "RawHttpConnection":
        while (i := self.buf.find(b"\r\n\r\n")) < 0:
            if not self._more():
                if not self.buf:
                    raise http.client.RemoteDisconnected("remote end closed connection without response")
                raise http.client.IncompleteRead(self.buf)
        head, self.buf = self.buf[:i].decode("latin-1"), self.buf[i + 4:]
        status, *lines = head.split("\r\n")
        if not status.startswith("HTTP/"):
            raise http.client.BadStatusLine(status)
        fields = {}
        for line in lines:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        self.status = int(status.split()[1])
        if self.status // 100 == 1:  # informational: the reply follows
            return self.getresponse()
        if "chunked" in fields.get("transfer-encoding", "").lower():
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers
                pass
            self.body = b"".join(parts)
        elif "content-length" in fields:
            self.body = self._take(int(fields["content-length"]))
        else:  # until the node closes the connection
            while self._more():
                pass
            self.body, self.buf = self.buf, b""
            self.close()
            return self
        if fields.get("connection", "").lower() == "close":
            self.close()
        return self

    def read(self) -> bytes:
        return self.body

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class Rpc:
    """JSON-RPC over one kept-alive HTTP/1.1 connection (http.client's, or
    with `raw=True` a RawHttpConnection); see the module docstring.

    `batches`: whether the node takes batch arrays (None: probe on the first batch).
    `retry_s`: how long reads are retried while the node does not answer (0: never)."""

    def __init__(self, uri: str, timeout: float = 60, *, raw: bool = False, batches: bool | None = None,
                 retry_s: float = RETRY_S):
        u = urlparse(uri)
        self.uri = uri
        self.host, self.port = u.hostname, u.port or 80
        self.path = u.path or "/"
        self.timeout = timeout
        self.raw = raw
        self.batches = batches
        self.retry_s = retry_s
        self._ids = itertools.count(1)
        self._conn = None
        self.requests = 0  # HTTP requests made (for the curious)
        self.seconds = 0.0  # time spent writing requests and waiting for replies
        self._sent: list[bytes] = []  # requests written whose replies are not read yet, in order

    def _post(self, payload):
        self.send(payload)
        return self.receive()

    def send(self, payload) -> None:
        """Write one request and return at once; `receive` reads its reply.
        Over http.client one request at a time (receive before the next send);
        over a plain socket (`raw`) several, their replies received in order."""
        assert self.raw or not self._sent, "Rpc.send: the previous reply was not received"
        body = json.dumps(payload, separators=(",", ":")).encode()
        started = time.perf_counter()
        in_flight = bool(self._sent)  # its reply comes on this connection: no new one
        try:
            self._write(body, reconnect=not in_flight)
        except Exception:
            if in_flight:  # the replies still to come are lost with the connection
                self._sent = []
                self.close()
            raise
        self._sent.append(body)
        self.seconds += time.perf_counter() - started

    def _write(self, body: bytes, reconnect: bool = True) -> None:
        """Write one request; a connection the node closed is opened again and the
        request written once more if `reconnect`."""
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = (RawHttpConnection if self.raw else http.client.HTTPConnection)(
                    self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                return
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt or not reconnect:
                    raise

    def receive(self):
        """The decoded reply to the oldest request `send` wrote."""
        assert self._sent, "Rpc.receive: nothing sent"
        body = self._sent.pop(0)
        alone = not self._sent  # a request behind it is lost with the connection
        started = time.perf_counter()
        for attempt in (0, 1):
            try:
                raw = self._conn.getresponse().read()
                break
            except (http.client.HTTPException, ConnectionError):
                # the node closed an idle connection: reconnect and send once more
                self._conn.close()
                self._conn = None
                if attempt or not alone:
                    self._sent = []
                    raise
                self._write(body)
        self.requests += 1
        self.seconds += time.perf_counter() - started
        status = getattr(self._conn, "status", 200) if self._conn is not None else 200
        if status >= 500 and not raw.lstrip().startswith((b"{", b"[")):
            raise HttpStatusError(status, raw)
        return json.loads(raw)

    def call(self, method: str, params: list | None = None):
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
        try:
            reply = self._post(payload)
        except Exception as exc:
            if not self._may_retry(exc, [method]):
                raise
            reply = self._retrying(lambda: self._post(payload))
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"]

    def batch(self, calls: Sequence[tuple[str, list]]) -> list:
        """Results in order; an error is returned as an RpcError instance, not raised.
        One batch array where the node takes them, else pipelined single requests."""
        if not calls:
            return []
        if self.batches is None:
            self.batches = self.probe_batches()
        if not self.batches:
            return self._pipelined(calls)
        try:
            return self.batch_receive(self.batch_send(calls))
        except Exception as exc:
            if not self._may_retry(exc, [m for m, _ in calls]):
                raise
            return self._retrying(lambda: self.batch_receive(self.batch_send(calls)))

    def probe_batches(self) -> bool:
        """Whether the node answers a JSON-RPC batch array with an array of replies."""
        payload = [{"jsonrpc": "2.0", "id": next(self._ids), "method": "eth_chainId", "params": []}
                   for _ in range(2)]
        try:
            reply = self._post(payload)
        except Exception as exc:
            if not self._may_retry(exc, ["eth_chainId"]):
                raise
            reply = self._retrying(lambda: self._post(payload))
        return isinstance(reply, list) and len(reply) == 2

    def _pipelined(self, calls: Sequence[tuple[str, list]]) -> list:
        """`batch` for a node without batch arrays: single requests written back to back
        (up to PIPELINE_BYTES) on the kept-alive plain-socket connection, then their
        replies read in order."""
        if not self.raw:  # http.client cannot pipeline: a plain socket from now on
            self.close()
            self.raw = True
        out: list = []
        start = 0
        while start < len(calls):
            bodies, size = [], 0
            for method, params in calls[start:]:
                body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params},
                                  separators=(",", ":")).encode()
                bodies.append(body)
                size += len(body)
                if size >= PIPELINE_BYTES:
                    break
            chunk = calls[start:start + len(bodies)]
            try:
                replies = self._pipeline(bodies)
            except Exception as exc:
                if not self._may_retry(exc, [m for m, _ in chunk]):
                    raise
                replies = self._retrying(lambda: self._pipeline(bodies))
            out += [RpcError(r["error"]) if "error" in r else r.get("result") for r in replies]
            start += len(bodies)
        return out

    def _pipeline(self, bodies: list[bytes]) -> list[dict]:
        assert not self._sent, "Rpc: a reply is still to be received"
        started = time.perf_counter()
        if self._conn is None:
            self._conn = RawHttpConnection(self.host, self.port, timeout=self.timeout)
        try:
            for body in bodies:
                self._conn.request("POST", self.path, body, {"Content-Type": "application/json"})
            replies = []
            for _ in bodies:
                raw = self._conn.getresponse().read()
                if self._conn.status >= 500 and not raw.lstrip().startswith((b"{", b"[")):
                    raise HttpStatusError(self._conn.status, raw)
                replies.append(json.loads(raw))
        except Exception:
            self.close()
            raise
        self.requests += len(bodies)
        self.seconds += time.perf_counter() - started
        return replies

    def _may_retry(self, exc: BaseException, methods) -> bool:
        """Retry a failed request: a transient failure of one that writes nothing."""
        self._sent = []
        if not self.retry_s or not _transient(exc) or any(m in WRITE_METHODS for m in methods):
            return False
        self.close()
        return True

    def _retrying(self, attempt):
        import tenacity

        def again(state):
            self._sent = []
            self.close()

        retrying = tenacity.Retrying(retry=tenacity.retry_if_exception(_transient),
                                     wait=tenacity.wait_exponential(multiplier=0.05, max=2.0),
                                     stop=tenacity.stop_after_delay(self.retry_s), before_sleep=again,
                                     reraise=True)
        try:
            return retrying(attempt)
        except Exception as exc:
            if _transient(exc):
                raise NodeUnreachable(f"the node at {self.uri} did not answer for {self.retry_s:.0f}s "
                                      f"({type(exc).__name__}: {exc})") from None
            raise

    def batch_send(self, calls: Sequence[tuple[str, list]]) -> tuple[int, int]:
        """Write a batch and return at once; pass what it returns to `batch_receive`."""
        first = next(self._ids)
        payload = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        self._ids = itertools.count(first + len(calls))
        self.send(payload)
        return first, len(calls)

    def batch_receive(self, sent: tuple[int, int]) -> list:
        """The results of the batch `batch_send` wrote, as `batch` returns them."""
        first, n = sent
        replies = self.receive()
        if isinstance(replies, dict):  # the whole batch was refused
            raise RpcError(replies.get("error", replies))
        by_id = {r["id"]: r for r in replies}
        out = []
        for i in range(n):
            r = by_id[first + i]
            out.append(RpcError(r["error"]) if "error" in r else r["result"])
        return out

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


