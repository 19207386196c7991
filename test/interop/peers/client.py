"""A Python `websockets` client driven by the interop tests.

Reads one JSON command per line on stdin, runs it on the current connection and writes one JSON
answer per line on stdout: {"id": ..., "ok": true, ...} or {"id": ..., "ok": false, "error": ...}.
Commands run one after another, in order.
"""

import asyncio
import json
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from payloads import payload


def connect_kwargs(cmd: dict) -> dict:
    kwargs = {
        "max_size": None,
        "max_queue": None,
        "ping_interval": None,
        "close_timeout": 10,
    }
    deflate = cmd.get("deflate")
    if deflate is None or deflate is False:
        kwargs["compression"] = None
    else:
        kwargs["extensions"] = [ClientPerMessageDeflateFactory(**deflate)]
    if cmd.get("subprotocols"):
        kwargs["subprotocols"] = cmd["subprotocols"]
    return kwargs


def describe(message) -> dict:
    if isinstance(message, str):
        return {"kind": "text", "hex": message.encode("utf-8").hex()}
    return {"kind": "binary", "hex": message.hex()}


def from_wire(cmd: dict):
    data = bytes.fromhex(cmd["hex"])
    return data.decode("utf-8") if cmd["kind"] == "text" else data


class Peer:
    def __init__(self) -> None:
        self.ws = None

    async def op_connect(self, cmd: dict) -> dict:
        try:
            self.ws = await websockets.connect(cmd["url"], **connect_kwargs(cmd))
        except InvalidStatusCode as error:
            return {"refused": error.status_code, "headers": dict(error.headers.raw_items())}
        return {
            "subprotocol": self.ws.subprotocol,
            "extensions": self.ws.response_headers.get("Sec-WebSocket-Extensions", ""),
        }

    async def op_echo(self, cmd: dict) -> dict:
        results = []
        for spec in cmd["specs"]:
            sent = payload(spec)
            await self.ws.send(sent)
            got = await self.ws.recv()
            results.append(
                {
                    "kind": spec["kind"],
                    "size": spec["size"],
                    "same_type": type(got) is type(sent),
                    "length": len(got.encode("utf-8") if isinstance(got, str) else got),
                    "equal": got == sent,
                }
            )
        return {"results": results}

    async def op_send(self, cmd: dict) -> dict:
        await self.ws.send(from_wire(cmd))
        return {}

    async def op_recv(self, cmd: dict) -> dict:
        return describe(await self.ws.recv())

    async def op_send_fragments(self, cmd: dict) -> dict:
        parts = [from_wire({"kind": cmd["kind"], "hex": h}) for h in cmd["parts"]]
        if cmd.get("async"):

            async def fragments():
                for part in parts:
                    yield part

            await self.ws.send(fragments())
        else:
            await self.ws.send(parts)
        return {}

    async def op_ping(self, cmd: dict) -> dict:
        # websockets resolves the waiter only for a pong carrying this ping's payload.
        waiter = await self.ws.ping(bytes.fromhex(cmd["hex"]))
        await asyncio.wait_for(waiter, 10)
        return {}

    async def op_pong(self, cmd: dict) -> dict:
        await self.ws.pong(bytes.fromhex(cmd["hex"]))
        return {}

    async def op_close(self, cmd: dict) -> dict:
        await self.ws.close(cmd.get("code", 1000), cmd.get("reason", ""))
        return self.closed_info()

    async def op_wait_closed(self, cmd: dict) -> dict:
        try:
            message = await self.ws.recv()
            return {"unexpected": describe(message)}
        except ConnectionClosed:
            await self.ws.wait_closed()
            return self.closed_info()

    def closed_info(self) -> dict:
        return {"code": self.ws.close_code, "reason": self.ws.close_reason}

    async def op_burst(self, cmd: dict) -> dict:
        n = cmd["n"]
        for i in range(n):
            await self.ws.send(f"burst {i}")
        return await self.expect_burst("burst", n)

    async def op_recv_burst(self, cmd: dict) -> dict:
        return await self.expect_burst(cmd["prefix"], cmd["n"])

    async def expect_burst(self, prefix: str, n: int) -> dict:
        for i in range(n):
            got = await self.ws.recv()
            if got != f"{prefix} {i}":
                return {"in_order": False, "index": i, "got": str(got)[:80]}
        return {"in_order": True, "count": n}

    async def op_many(self, cmd: dict) -> dict:
        n = cmd["n"]
        kwargs = connect_kwargs({})
        opened = asyncio.Event()
        count = 0

        async def one(i: int):
            nonlocal count
            ws = await websockets.connect(cmd["url"], **kwargs)
            count += 1
            if count == n:
                opened.set()
            await opened.wait()  # every connection is open at the same time
            await ws.send(f"client {i}")
            got = await ws.recv()
            await ws.close(1000)
            return got == f"client {i}" and ws.close_code == 1000

        results = await asyncio.gather(*(one(i) for i in range(n)))
        return {"ok_count": sum(1 for r in results if r)}


async def main() -> None:
    peer = Peer()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = json.loads(line)
        try:
            answer = await getattr(peer, "op_" + cmd["op"])(cmd)
            answer.update({"id": cmd["id"], "ok": True})
        except Exception as error:  # reported to the test, which fails
            answer = {"id": cmd["id"], "ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
