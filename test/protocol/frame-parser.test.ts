import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FrameParser } from "../../src/protocol/frame-parser.js";
import {
  bytewise,
  type FrameEvent,
  hex,
  parseChunks,
  parseWhole,
  RecordingSink,
  split,
  WholeRecordingSink,
  withOffset,
} from "./frame-log.js";
import {
  buildWire,
  cuts,
  pausesAt,
  ReusedBuffer,
  readsOf,
  schedule,
  type Wire,
  wireItems,
} from "./transient-feed.js";

const server = { role: "server" } as const;
const client = { role: "client" } as const;

const HELLO = Buffer.from("Hello");

/** Parses `bytes` whole, one byte at a time and at every single cut point; all logs must agree. */
function parseEveryWay(bytes: Buffer, options: { role: "server" | "client"; allowRsv1?: boolean }) {
  const whole = parseWhole(bytes, options);
  assert.deepEqual(parseChunks(bytewise(bytes), options).events, whole, "one byte at a time");
  for (let cut = 1; cut < bytes.length && cut < 40; cut++) {
    assert.deepEqual(
      parseChunks(split(bytes, [cut], cut & 3), options).events,
      whole,
      `cut ${cut}`,
    );
  }
  return whole;
}

function dataEvents(opcode: number, fin: boolean, payload: Buffer, rsv1 = false): FrameEvent[] {
  const events: FrameEvent[] = [{ type: "start", opcode, fin, rsv1, length: payload.length }];
  if (payload.length > 0) events.push({ type: "data", data: payload });
  events.push({ type: "end", fin });
  return events;
}

function errorEvent(code: string): FrameEvent {
  return { type: "error", code, closeCode: 1002 };
}

describe("FrameParser: RFC 6455 section 5.7 examples", () => {
  it("a single-frame unmasked text message (client side)", () => {
    const events = parseEveryWay(hex("81 05 48 65 6c 6c 6f"), client);
    assert.deepEqual(events, dataEvents(1, true, HELLO));
  });

  it("a single-frame masked text message (server side)", () => {
    const events = parseEveryWay(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), server);
    assert.deepEqual(events, dataEvents(1, true, HELLO));
  });

  it("a fragmented unmasked text message", () => {
    const events = parseEveryWay(hex("01 03 48 65 6c  80 02 6c 6f"), client);
    assert.deepEqual(events, [
      ...dataEvents(1, false, Buffer.from("Hel")),
      ...dataEvents(0, true, Buffer.from("lo")),
    ]);
  });

  it("an unmasked ping and a masked pong", () => {
    assert.deepEqual(parseEveryWay(hex("89 05 48 65 6c 6c 6f"), client), [
      { type: "control", opcode: 9, payload: HELLO },
    ]);
    assert.deepEqual(parseEveryWay(hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), server), [
      { type: "control", opcode: 10, payload: HELLO },
    ]);
  });

  it("256 bytes of binary data in a single unmasked frame", () => {
    const payload = Buffer.alloc(256, 0xab);
    const events = parseEveryWay(Buffer.concat([hex("82 7e 01 00"), payload]), client);
    assert.deepEqual(events, dataEvents(2, true, payload));
  });

  it("64 KiB of binary data in a single unmasked frame", () => {
    const payload = Buffer.alloc(65536);
    for (let i = 0; i < payload.length; i++) payload[i] = i * 7;
    const bytes = Buffer.concat([hex("82 7f 00 00 00 00 00 01 00 00"), payload]);
    assert.deepEqual(parseWhole(bytes, client), dataEvents(2, true, payload));
    assert.deepEqual(parseChunks(split(bytes, [1, 5, 9, 10, 4000], 1), client).events, [
      ...dataEvents(2, true, payload),
    ]);
  });
});

describe("FrameParser: views and offsets", () => {
  it("hands out views into the chunk, unmasked in place, without copying", () => {
    const bytes = withOffset(hex("82 85 37 fa 21 3d 7f 9f 4d 51 58"), 3);
    const seen: Buffer[] = [];
    const sink = new RecordingSink();
    sink.onDataFrameChunk = (data) => {
      seen.push(data);
      return true;
    };
    new FrameParser(sink, server).receive(bytes);
    assert.equal(seen.length, 1);
    const view = seen[0] as Buffer;
    assert.equal(view.buffer, bytes.buffer, "same memory");
    assert.equal(view.byteOffset, bytes.byteOffset + 6);
    assert.deepEqual(view, HELLO);
    assert.deepEqual(bytes.subarray(6), HELLO, "unmasked in place");
  });

  it("a piece that spans the whole chunk is the chunk itself", () => {
    const sink = new RecordingSink();
    const pieces: Buffer[] = [];
    sink.onDataFrameChunk = (data) => {
      pieces.push(data);
      return true;
    };
    const parser = new FrameParser(sink, client);
    parser.receive(hex("82 7e 01 00"));
    const body = Buffer.alloc(256, 1);
    parser.receive(body);
    assert.equal(pieces[0], body);
  });

  it("unmasks long payloads correctly at every byteOffset and every split", () => {
    const key = [0x12, 0x34, 0x56, 0x78];
    const payload = Buffer.alloc(1000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const masked = Buffer.from(payload.map((b, i) => b ^ (key[i & 3] as number)));
    const frame = Buffer.concat([hex("82 fe 03 e8"), Buffer.from(key), masked]);
    for (let offset = 0; offset < 4; offset++) {
      for (const cuts of [[], [8], [9], [10, 11], [100, 101, 503], [8, 137, 138, 139, 777]]) {
        const { events } = parseChunks(split(frame, cuts, offset), server);
        assert.deepEqual(events, dataEvents(2, true, payload), `offset ${offset} cuts ${cuts}`);
      }
    }
  });

  it("gathers a split control payload and unmasks it", () => {
    const frame = hex("89 85 37 fa 21 3d 7f 9f 4d 51 58");
    for (let cut = 7; cut < frame.length; cut++) {
      const { events } = parseChunks(split(frame, [cut, cut + 2], cut & 3), server);
      assert.deepEqual(events, [{ type: "control", opcode: 9, payload: HELLO }]);
    }
  });

  it("reports an empty control payload even when the header ends the chunk", () => {
    assert.deepEqual(parseWhole(hex("8a 00"), client), [
      { type: "control", opcode: 10, payload: Buffer.alloc(0) },
    ]);
    assert.deepEqual(parseChunks([hex("88 80"), hex("01 02 03 04")], server).events, [
      { type: "control", opcode: 8, payload: Buffer.alloc(0) },
    ]);
  });

  it("reports zero-length data frames with start and end", () => {
    assert.deepEqual(parseEveryWay(hex("02 00 80 00"), client), [
      ...dataEvents(2, false, Buffer.alloc(0)),
      ...dataEvents(0, true, Buffer.alloc(0)),
    ]);
  });

  it("accepts control frames between the fragments of a message", () => {
    const bytes = hex("01 01 61  89 00  8a 01 7a  00 01 62  88 02 03 e8  80 01 63");
    assert.deepEqual(parseEveryWay(bytes, client), [
      ...dataEvents(1, false, Buffer.from("a")),
      { type: "control", opcode: 9, payload: Buffer.alloc(0) },
      { type: "control", opcode: 10, payload: Buffer.from("z") },
      ...dataEvents(0, false, Buffer.from("b")),
      { type: "control", opcode: 8, payload: hex("03 e8") },
      ...dataEvents(0, true, Buffer.from("c")),
    ]);
  });

  it("decodes 16-bit and 64-bit lengths at their limits", () => {
    for (const n of [126, 127, 65535]) {
      const events = parseWhole(
        Buffer.concat([hex(`82 7e ${n.toString(16).padStart(4, "0")}`), Buffer.alloc(n, 2)]),
        client,
      );
      assert.deepEqual(events[0], { type: "start", opcode: 2, fin: true, rsv1: false, length: n });
    }
    // The largest safe integer is accepted; the connection, not the parser, limits sizes.
    const sink = new RecordingSink();
    new FrameParser(sink, client).receive(hex("82 7f 00 1f ff ff ff ff ff ff"));
    assert.deepEqual(sink.events, [
      { type: "start", opcode: 2, fin: true, rsv1: false, length: Number.MAX_SAFE_INTEGER },
    ]);
  });
});

describe("FrameParser: whole messages (onWholeMessage)", () => {
  const key = "37 fa 21 3d";
  // A masked binary "Hello", a masked text "abc", a fragmented text "ab"+"c", a ping, and an
  // empty binary message: as a client sends them.
  const stream = hex(
    `82 85 ${key} 7f 9f 4d 51 58  81 83 ${key} 56 98 42  01 82 ${key} 56 98  80 81 ${key} 54` +
      `  89 80 ${key}  82 80 ${key}`,
  );
  const whole = (wholeMax: number, chunks: readonly Buffer[] = [Buffer.from(stream)]) =>
    parseChunks(chunks, { ...server, wholeMax });

  it("a message in one frame, all in the chunk, is one event, still masked; the log is the same", () => {
    const plain = parseWhole(stream, server);
    const { events, sink } = whole(100);
    assert.deepEqual(events, plain);
    const w = sink as WholeRecordingSink;
    assert.equal(w.wholes, 3, "Hello, abc and the empty message; not the fragments");
    assert.equal(w.stillMasked, 3, "the sink unmasks them");
  });

  it("only messages shorter than wholeMax", () => {
    const w = whole(5).sink as WholeRecordingSink;
    assert.equal(w.wholes, 2, "abc and the empty one; Hello has 5 bytes");
    assert.equal(
      (whole(0).sink as WholeRecordingSink | RecordingSink) instanceof WholeRecordingSink,
      false,
    );
  });

  it("a payload cut by the end of the chunk comes in pieces, at any cut", () => {
    const plain = parseWhole(stream, server);
    for (let cut = 1; cut < stream.length; cut++) {
      const { events, sink } = whole(100, split(stream, [cut], cut & 3));
      assert.deepEqual(events, plain, `cut ${cut}`);
      assert.ok((sink as WholeRecordingSink).wholes >= 2, `cut ${cut}: at most one message cut`);
    }
  });

  it("never for a compressed first frame (RSV1) or an unmasked client frame", () => {
    const rsv1 = hex(`c2 85 ${key} 7f 9f 4d 51 58`);
    const r = parseChunks([Buffer.from(rsv1)], { ...server, allowRsv1: true, wholeMax: 100 });
    assert.equal((r.sink as WholeRecordingSink).wholes, 0);
    assert.deepEqual(r.events, parseWhole(rsv1, { ...server, allowRsv1: true }));
    const c = parseChunks([hex("82 03 61 62 63")], { ...client, wholeMax: 100 });
    assert.equal((c.sink as WholeRecordingSink).wholes, 1);
    assert.equal((c.sink as WholeRecordingSink).stillMasked, 0, "key 0: nothing to unmask");
  });
});

describe("FrameParser: every failure mode", () => {
  const cases: [string, string, "server" | "client", string][] = [
    ["RSV2 set", "a2 00", "client", "ERR_WS_UNEXPECTED_RSV2"],
    ["RSV3 set", "92 00", "client", "ERR_WS_UNEXPECTED_RSV3"],
    ["RSV1 without an extension", "c2 00", "client", "ERR_WS_UNEXPECTED_RSV1"],
    ["reserved data opcode 3", "83 00", "client", "ERR_WS_INVALID_OPCODE"],
    ["reserved data opcode 7", "87 00", "client", "ERR_WS_INVALID_OPCODE"],
    ["reserved control opcode 0xB", "8b 00", "client", "ERR_WS_INVALID_OPCODE"],
    ["reserved control opcode 0xF", "8f 00", "client", "ERR_WS_INVALID_OPCODE"],
    ["unmasked frame at a server", "82 00", "server", "ERR_WS_EXPECTED_MASK"],
    ["masked frame at a client", "82 80 00 00 00 00", "client", "ERR_WS_UNEXPECTED_MASK"],
    [
      "64-bit length with its MSB set",
      "82 7f 80 00 00 00 00 00 00 00",
      "client",
      "ERR_WS_INVALID_LENGTH",
    ],
    [
      "64-bit length above 2^53 - 1",
      "82 7f 00 20 00 00 00 00 00 00",
      "client",
      "ERR_WS_INVALID_LENGTH",
    ],
    ["16-bit length below 126", "82 7e 00 7d", "client", "ERR_WS_NON_MINIMAL_LENGTH"],
    [
      "64-bit length below 65536",
      "82 7f 00 00 00 00 00 00 ff ff",
      "client",
      "ERR_WS_NON_MINIMAL_LENGTH",
    ],
    ["fragmented ping", "09 00", "client", "ERR_WS_FRAGMENTED_CONTROL"],
    ["fragmented close", "08 00", "client", "ERR_WS_FRAGMENTED_CONTROL"],
    ["ping with a 126 length code", "89 7e 00 7e", "client", "ERR_WS_CONTROL_TOO_LONG"],
    [
      "close with a 127 length code",
      "88 7f 00 00 00 00 00 01 00 00",
      "client",
      "ERR_WS_CONTROL_TOO_LONG",
    ],
    ["continuation without a message", "80 00", "client", "ERR_WS_UNEXPECTED_CONTINUATION"],
    [
      "text while a message is in progress",
      "01 00 81 00",
      "client",
      "ERR_WS_EXPECTED_CONTINUATION",
    ],
    [
      "binary while a message is in progress",
      "02 00 89 00 82 00",
      "client",
      "ERR_WS_EXPECTED_CONTINUATION",
    ],
    [
      "a continuation after the final frame",
      "01 00 80 00 80 00",
      "client",
      "ERR_WS_UNEXPECTED_CONTINUATION",
    ],
  ];
  for (const [name, bytes, role, code] of cases) {
    it(`${name}: ${code}, close code 1002, then silence`, () => {
      const input = hex(bytes);
      for (const chunks of [[Buffer.from(input)], bytewise(input)]) {
        const sink = new RecordingSink();
        const parser = new FrameParser(sink, { role });
        for (const chunk of chunks) assert.doesNotThrow(() => parser.receive(chunk));
        const last = sink.events[sink.events.length - 1];
        assert.deepEqual(last, errorEvent(code));
        assert.equal(sink.errors.length, 1);
        assert.equal(sink.errors[0]?.closeCode, 1002);
        assert.equal(sink.errors[0]?.name, "ProtocolError");
        assert.equal(parser.stopped, true);
        assert.equal(parser.bufferedBytes, 0);
        const before = sink.events.length;
        parser.receive(hex("82 00 82 00"));
        assert.equal(sink.events.length, before, "no event after the error");
      }
    });
  }

  it("RSV1 is allowed on the first frame of a message once negotiated, nowhere else", () => {
    const options = { role: "client", allowRsv1: true } as const;
    assert.deepEqual(parseEveryWay(hex("41 01 78 80 01 79"), options), [
      ...dataEvents(1, false, Buffer.from("x"), true),
      ...dataEvents(0, true, Buffer.from("y")),
    ]);
    assert.deepEqual(
      parseWhole(hex("41 00 c0 00"), options).at(-1),
      errorEvent("ERR_WS_UNEXPECTED_RSV1"),
    );
    assert.deepEqual(
      parseWhole(hex("c9 00"), options).at(-1),
      errorEvent("ERR_WS_UNEXPECTED_RSV1"),
    );
  });

  it("allowRsv1 can be switched on after construction", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    parser.allowRsv1 = true;
    parser.receive(hex("c2 00"));
    assert.deepEqual(sink.events, dataEvents(2, true, Buffer.alloc(0), true));
  });

  it("fails fast: the first header byte alone is enough to reject", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    parser.receive(hex("83"));
    assert.deepEqual(sink.events, [errorEvent("ERR_WS_INVALID_OPCODE")]);
  });

  it("never throws on random input, and reports at most one error", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(300)),
        fc.constantFrom<"server" | "client">("server", "client"),
        (bytes, cuts, role) => {
          const whole = parseWhole(bytes, { role });
          const pieces = parseChunks(split(bytes, cuts), { role }).events;
          assert.deepEqual(pieces, whole);
          assert.ok(whole.filter((e) => e.type === "error").length <= 1);
        },
      ),
    );
  });
});

describe("FrameParser: pause, resume, stop", () => {
  const stream = hex("81 05 48 65 6c 6c 6f  89 00  02 00  80 03 61 62 63  8a 01 7a");
  const expected: FrameEvent[] = [
    ...dataEvents(1, true, HELLO),
    { type: "control", opcode: 9, payload: Buffer.alloc(0) },
    ...dataEvents(2, false, Buffer.alloc(0)),
    ...dataEvents(0, true, Buffer.from("abc")),
    { type: "control", opcode: 10, payload: Buffer.from("z") },
  ];

  it("a sink returning false pauses right after that event and keeps the rest", () => {
    const sink = new RecordingSink();
    sink.pauseAt = (call) => call === 0;
    const parser = new FrameParser(sink, client);
    parser.receive(Buffer.from(stream));
    assert.equal(parser.paused, true);
    assert.equal(sink.events.length, 1);
    assert.equal(parser.bufferedBytes, stream.length - 2);
    parser.receive(hex("89 00"));
    assert.equal(parser.bufferedBytes, stream.length, "queued while paused");
    assert.equal(sink.events.length, 1, "nothing parsed while paused");
    parser.resume();
    assert.equal(parser.paused, false);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(sink.events, [
      ...expected,
      { type: "control", opcode: 9, payload: Buffer.alloc(0) },
    ]);
  });

  it("the end of a zero-length frame follows on resume without more input", () => {
    const sink = new RecordingSink();
    sink.pauseAt = (call) => call === 0;
    const parser = new FrameParser(sink, client);
    parser.receive(hex("82 00"));
    assert.deepEqual(sink.events, [
      { type: "start", opcode: 2, fin: true, rsv1: false, length: 0 },
    ]);
    parser.resume();
    assert.deepEqual(sink.events, dataEvents(2, true, Buffer.alloc(0)));
  });

  it("pause() from inside a callback behaves like returning false", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    sink.hook = (type) => {
      if (type === "control") parser.pause();
    };
    parser.receive(Buffer.from(stream));
    assert.equal(sink.events.at(-1)?.type, "control");
    assert.equal(sink.events.length, 4);
    sink.hook = null;
    parser.resume();
    assert.deepEqual(sink.events, expected);
  });

  it("pause() outside parsing queues the next chunks", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    parser.pause();
    parser.receive(Buffer.from(stream));
    assert.equal(sink.events.length, 0);
    assert.equal(parser.bufferedBytes, stream.length);
    parser.resume();
    assert.deepEqual(sink.events, expected);
  });

  it("pausing at every possible event, in any chunking, keeps the log", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(stream.length)), fc.array(fc.nat(30)), (cuts, pauses) => {
        const at = new Set(pauses);
        const { events } = parseChunks(split(stream, cuts, cuts.length & 3), client, (c) =>
          at.has(c),
        );
        assert.deepEqual(events, expected);
      }),
    );
  });

  it("receive() from inside a callback is queued behind the rest of the chunk", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    let fed = false;
    sink.hook = (type) => {
      if (type === "end" && !fed) {
        fed = true;
        parser.receive(hex("89 01 71"));
      }
    };
    parser.receive(Buffer.from(stream));
    assert.deepEqual(sink.events, [
      ...expected,
      { type: "control", opcode: 9, payload: Buffer.from("q") },
    ]);
  });

  it("stop() from inside a callback ends parsing and drops the rest", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    sink.hook = (type) => {
      if (type === "control") parser.stop();
    };
    parser.receive(Buffer.from(stream));
    assert.equal(sink.events.length, 4);
    assert.equal(parser.stopped, true);
    assert.equal(parser.paused, false);
    assert.equal(parser.bufferedBytes, 0);
    parser.resume();
    parser.receive(hex("89 00"));
    assert.equal(sink.events.length, 4);
  });

  it("a sink that throws leaves the parser consistent: the rest comes with the next input", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    let thrown = false;
    sink.hook = (type) => {
      if (type === "control" && !thrown) {
        thrown = true;
        throw new Error("user bug");
      }
    };
    assert.throws(() => parser.receive(Buffer.from(stream)), /user bug/);
    assert.equal(parser.bufferedBytes, stream.length - 9);
    parser.receive(hex("89 00"));
    assert.deepEqual(sink.events, [
      ...expected,
      { type: "control", opcode: 9, payload: Buffer.alloc(0) },
    ]);
  });

  it("a sink that throws with chunks still queued: the next input goes behind them", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    let thrown = false;
    sink.pauseAt = (call) => call === 0;
    sink.hook = (type) => {
      if (type === "data" && !thrown) {
        thrown = true;
        throw new Error("user bug");
      }
    };
    parser.receive(hex("82 03 61"));
    parser.receive(hex("62"));
    // "a" is parsed and the sink throws: "b" is still queued.
    assert.throws(() => parser.resume(), /user bug/);
    parser.receive(hex("63"));
    assert.deepEqual(sink.events, dataEvents(2, true, Buffer.from("abc")));
  });

  it("resume() on a parser that is not paused does nothing", () => {
    const sink = new RecordingSink();
    const parser = new FrameParser(sink, client);
    parser.resume();
    assert.equal(sink.events.length, 0);
    assert.equal(parser.paused, false);
  });
});

describe("FrameParser: transient chunks (a shared read buffer)", () => {
  const BOOM = new Error("sink bug");

  /** The log the frames must give, from the model (independent of the parser). */
  function modelOf(wire: Wire): FrameEvent[] {
    const events: FrameEvent[] = [];
    for (const f of wire.frames) {
      const payload = Buffer.from(f.payload);
      if (f.opcode >= 8) events.push({ type: "control", opcode: f.opcode, payload });
      else events.push(...dataEvents(f.opcode, f.fin, payload));
    }
    return events;
  }

  it("property: reads overwritten after every call, random pauses and a throw: the same log", () => {
    fc.assert(
      fc.property(
        wireItems,
        cuts,
        schedule,
        fc.constantFrom(0, 1, 126, 4096, 70_000),
        (items, c, s, wholeMax) => {
          const wire = buildWire(items);
          const reads = readsOf(wire, c);
          // The reference: fresh chunks nobody touches, no pause.
          const reference = parseChunks(
            reads.map((r) => Buffer.from(r)),
            server,
          ).events;
          assert.deepEqual(reference, modelOf(wire));

          const memory = new ReusedBuffer();
          // With a wholeMax, whole messages come as one event each (still masked): same log.
          const sink = wholeMax > 0 ? new WholeRecordingSink() : new RecordingSink();
          sink.pauseAt = (call) => pausesAt(s, call);
          let thrown = false;
          sink.hook = () => {
            if (!thrown && sink.calls - 1 === s.throwAt) {
              thrown = true;
              throw BOOM;
            }
          };
          const parser = new FrameParser(sink, { ...server, wholeMax });
          // After a throw, the rest of the input (and an event that was due, such as a frame's end)
          // waits for more input or a pause and resume.
          let owed = false;
          const guarded = (step: () => void) => {
            try {
              step();
            } catch (error) {
              if (error !== BOOM) throw error;
              owed = true;
            }
          };
          for (const [i, read] of reads.entries()) {
            const view = memory.load(read);
            guarded(() => parser.receive(view, true));
            // The next read lands in the same memory: whatever the parser kept must be its own.
            memory.clobber();
            for (let r = s.resumes[i] ?? 1; r > 0; r--) guarded(() => parser.resume());
          }
          // The end: resume until everything is parsed.
          for (let guard = 0; owed || parser.paused || parser.bufferedBytes > 0; guard++) {
            assert.ok(guard < 1_000_000, "the parser makes progress");
            owed = false;
            if (!parser.paused) parser.pause();
            guarded(() => parser.resume());
          }
          assert.deepEqual(sink.events, reference);
          assert.equal(parser.bufferedBytes, 0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("keeps its own copy of a paused chunk's rest and of chunks queued while paused", () => {
    // Two messages in one read; the sink pauses after the first one's start.
    const stream = Buffer.concat([
      hex("82 85 37 fa 21 3d 7f 9f 4d 51 58"),
      hex("81 83 01 02 03 04"),
      Buffer.from([0x61 ^ 1, 0x62 ^ 2, 0x63 ^ 3]),
    ]);
    const memory = new ReusedBuffer();
    const sink = new RecordingSink();
    sink.pauseAt = (call) => call === 0;
    const parser = new FrameParser(sink, server);
    parser.receive(memory.load(stream), true);
    memory.clobber();
    assert.equal(parser.paused, true);
    parser.receive(memory.load(hex("89 80 00 00 00 00")), true);
    memory.clobber();
    parser.resume();
    assert.deepEqual(sink.events, [
      ...dataEvents(2, true, HELLO),
      ...dataEvents(1, true, Buffer.from("abc")),
      { type: "control", opcode: 9, payload: Buffer.alloc(0) },
    ]);
  });

  it("without transient, it keeps the caller's chunk itself (no copy)", () => {
    const sink = new RecordingSink();
    sink.pauseAt = (call) => call === 0;
    const seen: Buffer[] = [];
    const parser = new FrameParser(sink, server);
    const chunk = Buffer.concat([hex("82 80 00 00 00 00"), hex("82 81 00 00 00 00 07")]);
    parser.receive(chunk);
    sink.onDataFrameChunk = (data) => {
      seen.push(data);
      return true;
    };
    parser.resume();
    assert.equal(seen[0]?.buffer, chunk.buffer, "a view of the caller's chunk");
  });
});
