"""The interop payload generators, byte for byte the same as test/interop/payloads.ts."""

import struct

BLOCK = 256
TEXT_BLOCK = 64
TEXT_BODY = "aé€😀" * 5 + "ж中!"
_BODIES = [bytes((j * 131 + r) & 0xFF for j in range(BLOCK - 4)) for r in range(256)]


def binary_payload(size: int, seed: int) -> bytes:
    blocks = -(-size // BLOCK)
    out = b"".join(
        struct.pack(">I", (k ^ seed) & 0xFFFFFFFF) + _BODIES[k & 0xFF] for k in range(blocks)
    )
    return out[:size]


def text_payload(size: int, seed: int) -> str:
    blocks = size // TEXT_BLOCK
    body = "".join(f"{(k ^ seed) & 0xFFFFFFFF:08x}{TEXT_BODY}" for k in range(blocks))
    return body + "x" * (size % TEXT_BLOCK)


def payload(spec: dict) -> "str | bytes":
    if spec["kind"] == "text":
        return text_payload(spec["size"], spec["seed"])
    return binary_payload(spec["size"], spec["seed"])
