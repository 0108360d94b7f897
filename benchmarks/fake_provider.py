"""A fake Postmark on loopback for the network-bound benchmark (benchmarks/network_bench.py).

    .venv/bin/python benchmarks/fake_provider.py --port 8025            # serve until killed
    .venv/bin/python benchmarks/fake_provider.py --selftest             # measure it alone

`POST /email` answers as Postmark's API does, after --latency seconds (100 ms): 200 with
`{"To", "SubmittedAt", "MessageID", "ErrorCode": 0, "Message": "OK"}`, the shape anymail's
Postmark backend parses; for --rate-limited (5 %) of calls, chosen at random, 429 with
`Retry-After: 1` and `{"ErrorCode": 429, "Message": …}` (anymail raises on the HTTP status
alone, before it reads the body). Every call is recorded — when it arrived, the email's
Message-ID header (from the payload's Headers list) and the status given — and
`GET /calls` returns them as JSON; `POST /reset` clears them.

One asyncio process parsing HTTP/1.1 by hand, with keep-alive (anymail reuses a requests
session per batch): no thread per connection, so it is not the bottleneck at a few
thousand calls a second (--selftest measures it with concurrent keep-alive clients).
"""
import argparse
import asyncio
import datetime as dt
import json
import random
import sys
import time
import uuid

REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}


class Provider:
    """The fake's state: the answers' policy and the record of every call."""

    def __init__(self, *, latency: float, rate_limited: float, seed: int | None = None):
        self.latency = latency
        self.rate_limited = rate_limited
        self.random = random.Random(seed)
        self.calls: list[tuple[float, str, int]] = []

    def email(self, body: bytes) -> tuple[int, dict, dict]:
        """Answer one `POST /email` and record it: (status, headers, JSON body)."""
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        headers = {h.get("Name", "").lower(): h.get("Value", "")
                   for h in payload.get("Headers") or [] if isinstance(h, dict)}
        message_id = headers.get("message-id", "")
        if self.random.random() < self.rate_limited:
            self.calls.append((time.time(), message_id, 429))
            return 429, {"Retry-After": "1"}, {
                "ErrorCode": 429, "Message": "Rate limit exceeded, too many requests"}
        self.calls.append((time.time(), message_id, 200))
        return 200, {}, {
            "To": payload.get("To", ""),
            "SubmittedAt": dt.datetime.now(dt.timezone.utc).isoformat(),
            "MessageID": str(uuid.uuid4()),
            "ErrorCode": 0,
            "Message": "OK",
        }


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies (what requests sends)."""

    def __init__(self, provider: Provider):
        self.provider = provider
        self.buffer = b""
        self.transport = None
        # Answers go out in request order even though each waits its latency.
        self.pending: asyncio.Future | None = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            fields = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            length = int(fields.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.request(method, path.split("?")[0], body, fields)

    def request(self, method, path, body, fields):
        close = fields.get("connection", "").lower() == "close"
        if method == "POST" and path.rstrip("/") == "/email":
            answer = self.provider.email(body)
            delay = self.provider.latency
        elif method == "GET" and path == "/calls":
            answer, delay = (200, {}, self.provider.calls), 0.0
        elif method == "POST" and path == "/reset":
            self.provider.calls = []
            answer, delay = (200, {}, {"Message": "OK"}), 0.0
        else:
            answer, delay = (404, {}, {"ErrorCode": 404, "Message": "not found"}), 0.0
        previous = self.pending
        self.pending = asyncio.ensure_future(self.respond(previous, delay, answer, close))

    async def respond(self, previous, delay, answer, close):
        if delay:
            await asyncio.sleep(delay)
        if previous is not None:
            await previous
        status, headers, payload = answer
        body = json.dumps(payload).encode()
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
                 "Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if close:
            lines.append("Connection: close")
        if self.transport.is_closing():
            return
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        if close:
            self.transport.close()


async def provider_serve(*, host: str, port: int, provider: Provider, ready=None):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(provider), host, port, backlog=1024)
    print(f"fake provider on http://{host}:{port}/", flush=True)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


async def _client(host, port, deadline, body, counts):
    """One keep-alive client posting emails one after the other until the deadline."""
    reader, writer = await asyncio.open_connection(host, port)
    request = (f"POST /email HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    while time.perf_counter() < deadline:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        counts[0] += 1
    writer.close()


def provider_selftest(*, clients: int, seconds: float, latency: float) -> None:
    """Serve in a child process and load it with `clients` keep-alive connections."""
    import multiprocessing

    def serve(port):
        provider = Provider(latency=latency, rate_limited=0.05)
        asyncio.run(provider_serve(host="127.0.0.1", port=port, provider=provider))

    port = 18000 + random.randrange(1000)
    child = multiprocessing.get_context("fork").Process(target=serve, args=(port,), daemon=True)
    child.start()
    time.sleep(0.5)
    body = json.dumps({"To": "a@example.com", "Headers": [
        {"Name": "Message-ID", "Value": "<selftest@example.com>"}]}).encode()

    async def load():
        counts = [0]
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(_client("127.0.0.1", port, deadline, body, counts)
                               for _ in range(clients)))
        return counts[0], time.perf_counter() - started

    try:
        done, elapsed = asyncio.run(load())
    finally:
        child.terminate()
    ceiling = clients / latency
    print(f"{clients} keep-alive clients, {latency * 1000:.0f} ms latency: {done / elapsed:,.0f} "
          f"calls/s served for {elapsed:.1f} s (the latency alone allows {ceiling:,.0f}/s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--rate-limited", type=float, default=0.05,
                        help="share of calls answered 429 + Retry-After: 1")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--selftest", action="store_true",
                        help="measure the fake alone with concurrent clients, then exit")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.selftest:
        provider_selftest(clients=args.clients, seconds=args.seconds, latency=args.latency)
        return
    provider = Provider(latency=args.latency, rate_limited=args.rate_limited, seed=args.seed)
    try:
        asyncio.run(provider_serve(host=args.host, port=args.port, provider=provider))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
