"""A Python `websockets` server for the interop tests of the tidews client.

Usage: server.py '<json config>' with {"deflate": null | {ServerPerMessageDeflateFactory
keyword arguments}, "subprotocols": [...] | null}. Prints "listening <port>", then one JSON line
per closed connection: {"event": "closed", "path", "code", "reason", "received": [...]}.

Each connection echoes every message with its type. A text message starting with "!cmd " is a
command instead: {"op": "close", "code", "reason"}, {"op": "ping", "hex"} (answers "!pong <hex>"
once the matching pong is back), {"op": "fragments", "kind", "parts": [hex...]},
{"op": "burst", "prefix", "n"}, {"op": "digests"} (answers with the digests received so far).
Paths starting with /refuse are answered 403; on paths starting with /greet the server first
sends GREETING (a text, a binary) and a ping.
"""

import asyncio
import hashlib
import http
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

CONFIG = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}


def digest(message) -> dict:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return {
        "kind": "text" if isinstance(message, str) else "binary",
        "length": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


async def command(ws, cmd: dict, received: list) -> bool:
    """Runs one command; returns False once the connection is closing."""
    op = cmd["op"]
    if op == "close":
        await ws.close(cmd["code"], cmd["reason"])
        return False
    if op == "ping":
        payload = bytes.fromhex(cmd["hex"])
        waiter = await ws.ping(payload)
        await asyncio.wait_for(waiter, 10)
        await ws.send("!pong " + payload.hex())
    elif op == "fragments":
        parts = [bytes.fromhex(h) for h in cmd["parts"]]
        if cmd["kind"] == "text":
            parts = [p.decode("utf-8") for p in parts]
        await ws.send(parts)
    elif op == "burst":
        for i in range(cmd["n"]):
            await ws.send(f"{cmd['prefix']} {i}")
    elif op == "digests":
        await ws.send(json.dumps(received))
    return True


GREETING = ("hello from Python ✓", bytes([0xEF]) * 3000)


async def handler(ws, path):
    received = []
    if path.startswith("/greet"):
        # Frames right behind the 101, likely in the same TCP segment.
        await ws.send(GREETING[0])
        await ws.send(GREETING[1])
        await ws.ping(b"greeting ping")
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("!cmd "):
                if not await command(ws, json.loads(message[5:]), received):
                    break
                continue
            received.append(digest(message))
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    event = {
        "event": "closed",
        "path": path,
        "code": ws.close_code,
        "reason": ws.close_reason,
        "received": len(received),
    }
    print(json.dumps(event), flush=True)


async def refuse(path, request_headers):
    if path.startswith("/refuse"):
        return http.HTTPStatus.FORBIDDEN, [], b"refused by the interop server\n"
    return None


async def main() -> None:
    kwargs = {
        "max_size": None,
        "max_queue": None,
        "ping_interval": None,
        "close_timeout": 10,
        "process_request": refuse,
    }
    deflate = CONFIG.get("deflate")
    if deflate is None:
        kwargs["compression"] = None
    else:
        kwargs["extensions"] = [ServerPerMessageDeflateFactory(**deflate)]
    if CONFIG.get("subprotocols"):
        kwargs["subprotocols"] = CONFIG["subprotocols"]
    async with websockets.serve(handler, "127.0.0.1", 0, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening {port}", flush=True)
        # Runs until the test closes stdin.
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.read()


if __name__ == "__main__":
    asyncio.run(main())
