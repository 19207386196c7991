import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ByteBuffer, SMALL_BUFFER_SIZE } from "../../src/buffer/byte-buffer.js";
import { LimitError, UsageError } from "../../src/errors.js";

/**
 * The reference model: contents as a plain array, capacity and offset tracked by the growth rules
 * of the issue (Go's bytes.Buffer), written as simply as possible.
 */
class Model {
  data: number[] = [];
  cap: number;
  off = 0;
  lastRead = false;
  lastConsumed = 0;

  constructor(cap = 0) {
    this.cap = cap;
  }

  get end(): number {
    return this.off + this.data.length;
  }

  private grow(n: number): void {
    const m = this.data.length;
    if (m === 0 && this.off !== 0) this.reset(); // Go: a drained buffer resets (lastRead too)
    if (n <= this.cap - this.end) return; // reslice
    if (this.cap === 0 && n <= SMALL_BUFFER_SIZE) {
      this.cap = SMALL_BUFFER_SIZE;
      this.off = 0;
      return;
    }
    if (n <= Math.floor(this.cap / 2) - m) {
      this.off = 0; // slide down
      return;
    }
    this.cap = Math.max(2 * this.cap, m + n);
    this.off = 0;
  }

  write(bytes: number[]): number {
    this.lastRead = false;
    this.grow(bytes.length);
    this.data.push(...bytes);
    return bytes.length;
  }

  growOp(n: number): void {
    this.grow(n);
  }

  read(n: number): number[] {
    this.lastRead = false;
    if (this.data.length === 0) {
      this.off = 0;
      return [];
    }
    const out = this.data.splice(0, Math.min(n, this.data.length));
    this.off += out.length;
    if (out.length > 0) {
      this.lastRead = true;
      this.lastConsumed = out[out.length - 1] as number;
    }
    return out;
  }

  readByte(): number {
    if (this.data.length === 0) {
      this.off = 0;
      this.lastRead = false;
      return -1;
    }
    const c = this.data.shift() as number;
    this.lastConsumed = c;
    this.off++;
    this.lastRead = true;
    return c;
  }

  unreadByte(): boolean {
    if (!this.lastRead) return false;
    this.lastRead = false;
    if (this.off > 0) {
      this.off--;
      this.data.unshift(this.lastConsumed);
    }
    return true;
  }

  next(n: number): number[] {
    this.lastRead = false;
    const out = this.data.splice(0, Math.min(n, this.data.length));
    this.off += out.length;
    if (out.length > 0) {
      this.lastRead = true;
      this.lastConsumed = out[out.length - 1] as number;
    }
    return out;
  }

  truncate(n: number): boolean {
    if (n === 0) {
      this.reset();
      return true;
    }
    this.lastRead = false;
    if (n < 0 || n > this.data.length) return false;
    this.data.length = n;
    return true;
  }

  reset(): void {
    this.data = [];
    this.off = 0;
    this.lastRead = false;
  }
}

type Op =
  | { op: "write"; bytes: number[] }
  | { op: "writeByte"; b: number }
  | { op: "writeString"; s: string }
  | { op: "read"; n: number }
  | { op: "readByte" }
  | { op: "unreadByte" }
  | { op: "next"; n: number }
  | { op: "truncate"; n: number }
  | { op: "reset" }
  | { op: "grow"; n: number };

const byteArb = fc.integer({ min: 0, max: 255 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(byteArb, { maxLength: 300 })
      .map((bytes) => ({ op: "write" as const, bytes })),
  },
  { weight: 2, arbitrary: byteArb.map((b) => ({ op: "writeByte" as const, b })) },
  {
    weight: 2,
    arbitrary: fc.string({ maxLength: 80 }).map((s) => ({ op: "writeString" as const, s })),
  },
  { weight: 3, arbitrary: fc.nat(400).map((n) => ({ op: "read" as const, n })) },
  { weight: 2, arbitrary: fc.constant({ op: "readByte" as const }) },
  { weight: 2, arbitrary: fc.constant({ op: "unreadByte" as const }) },
  { weight: 2, arbitrary: fc.nat(400).map((n) => ({ op: "next" as const, n })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: -2, max: 300 }).map((n) => ({ op: "truncate" as const, n })),
  },
  { weight: 1, arbitrary: fc.constant({ op: "reset" as const }) },
  { weight: 1, arbitrary: fc.nat(600).map((n) => ({ op: "grow" as const, n })) },
);

function apply(buf: ByteBuffer, model: Model, op: Op): void {
  switch (op.op) {
    case "write":
      assert.equal(buf.write(Uint8Array.from(op.bytes)), model.write(op.bytes));
      break;
    case "writeByte":
      buf.writeByte(op.b);
      model.write([op.b]);
      break;
    case "writeString": {
      const bytes = [...Buffer.from(op.s, "utf8")];
      assert.equal(buf.writeString(op.s), model.write(bytes));
      break;
    }
    case "read": {
      const dst = new Uint8Array(op.n);
      const n = buf.read(dst);
      assert.deepEqual([...dst.subarray(0, n)], model.read(op.n));
      break;
    }
    case "readByte":
      assert.equal(buf.readByte(), model.readByte());
      break;
    case "unreadByte":
      if (model.unreadByte()) buf.unreadByte();
      else assert.throws(() => buf.unreadByte(), UsageError);
      break;
    case "next":
      assert.deepEqual([...buf.next(op.n)], model.next(op.n));
      break;
    case "truncate":
      if (model.truncate(op.n)) buf.truncate(op.n);
      else assert.throws(() => buf.truncate(op.n), UsageError);
      break;
    case "reset":
      buf.reset();
      model.reset();
      break;
    case "grow":
      buf.grow(op.n);
      model.growOp(op.n);
      break;
  }
}

function check(buf: ByteBuffer, model: Model): void {
  assert.deepEqual([...buf.bytes()], model.data, "contents");
  assert.equal(buf.len, model.data.length, "len");
  assert.equal(buf.cap, model.cap, "cap follows the growth policy");
  assert.equal(buf.off, model.off, "read offset");
  assert.equal(buf.available, model.cap - model.end, "available");
}

describe("ByteBuffer", () => {
  it("matches the reference model over random operation sequences", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const buf = new ByteBuffer();
        const model = new Model();
        for (const op of ops) {
          apply(buf, model, op);
          check(buf, model);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("matches the model when starting from a preallocated capacity", () => {
    fc.assert(
      fc.property(fc.nat(200), fc.array(opArb, { maxLength: 40 }), (cap, ops) => {
        const buf = new ByteBuffer(cap);
        const model = new Model(cap);
        for (const op of ops) {
          apply(buf, model, op);
          check(buf, model);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("grows step by step as Go's bytes.Buffer", () => {
    const b = new ByteBuffer();
    assert.equal(b.cap, 0, "a new buffer has no storage");
    b.write(new Uint8Array(10));
    assert.equal(b.cap, 64, "first small write allocates smallBufferSize");
    b.write(new Uint8Array(54));
    assert.equal(b.cap, 64, "fits: reslice");
    b.write(new Uint8Array(1));
    assert.equal(b.cap, 128, "full: max(2*cap, len+n)");
    b.write(new Uint8Array(300));
    assert.equal(b.cap, 365, "len+n wins over 2*cap");
    // Read most of it, then a write that fits after sliding down: no allocation.
    b.next(360);
    const storage = b.storage;
    b.write(new Uint8Array(100)); // 5 unread, off 360, end 365: 100 <= 365/2 - 5 -> slide
    assert.equal(b.cap, 365);
    assert.equal(b.storage, storage, "slid down instead of allocating");
    assert.equal(b.off, 0);
    assert.equal(b.len, 105);
    // A drained buffer resets its offset to 0 and reslices.
    b.next(105);
    b.write(new Uint8Array(365));
    assert.equal(b.storage, storage);
    assert.equal(b.off, 0);
    // Large first write: exactly n.
    const big = new ByteBuffer();
    big.write(new Uint8Array(65));
    assert.equal(big.cap, 65);
  });

  it("slides only while at most half the capacity is in use", () => {
    const b = new ByteBuffer(100);
    b.write(new Uint8Array(100));
    b.next(60); // 40 unread at [60, 100)
    b.write(new Uint8Array(10)); // no room behind; 10 <= 100/2 - 40: slide down
    assert.equal(b.cap, 100);
    assert.equal(b.off, 0);
    assert.equal(b.len, 50);
    b.next(10); // 40 unread at [10, 50)
    b.write(new Uint8Array(50)); // fits behind the contents: reslice
    assert.equal(b.cap, 100);
    assert.equal(b.off, 10);
    b.next(40); // 50 unread at [50, 100)
    b.write(new Uint8Array(1)); // 1 > 100/2 - 50: allocate max(2 * 100, 51)
    assert.equal(b.cap, 200);
    assert.equal(b.off, 0);
    assert.equal(b.len, 51);
  });

  it("wraps existing bytes without copying, honouring byteOffset", () => {
    const slab = Buffer.from("xxhello worldyy");
    const view = slab.subarray(2, 13);
    const b = ByteBuffer.wrap(view);
    assert.equal(b.toString(), "hello world");
    assert.equal(b.bytes().buffer, slab.buffer, "no copy");
    assert.equal(b.next(5).toString(), "hello");
    assert.equal(b.readByte(), 0x20);
    b.unreadByte();
    assert.equal(b.toString(), " world");
    const u8 = new Uint8Array(slab.buffer, slab.byteOffset + 8, 5);
    const w = ByteBuffer.wrap(u8);
    assert.equal(w.toString(), "world");
    const dst = new Uint8Array(3);
    assert.equal(w.read(dst), 3);
    assert.deepEqual(Buffer.from(dst).toString(), "wor");
  });

  it("writes from and reads into views with a non-zero byteOffset", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(50),
        fc.nat(50),
        (data, pre, post) => {
          const host = Buffer.alloc(pre + data.length + post, 0xee);
          host.set(data, pre);
          const src = host.subarray(pre, pre + data.length);
          const b = new ByteBuffer();
          b.write(src);
          const dstHost = new Uint8Array(pre + data.length + post);
          const dst = dstHost.subarray(pre, pre + data.length);
          assert.equal(b.read(dst), data.length);
          assert.deepEqual([...dst], [...data]);
          assert.ok(
            dstHost.subarray(0, pre).every((x) => x === 0),
            "nothing written before the view",
          );
        },
      ),
    );
  });

  it("writes strings in any encoding straight into the storage", () => {
    const b = new ByteBuffer();
    assert.equal(b.writeString("h\u00e9llo \u{1f600}"), 11);
    assert.equal(b.toString(), "h\u00e9llo \u{1f600}");
    b.reset();
    b.writeString("abc", "latin1");
    b.writeString("ZGVm", "base64");
    assert.equal(b.toString(), "abcdef");
    assert.equal(b.toString("hex"), "616263646566");
  });

  it("reports end of data as Go does", () => {
    const b = new ByteBuffer();
    assert.equal(b.readByte(), -1);
    assert.equal(b.read(new Uint8Array(4)), 0);
    assert.equal(b.next(10).length, 0);
    assert.throws(
      () => b.unreadByte(),
      (e: unknown) => e instanceof UsageError && e.code === "ERR_BUFFER_UNREAD",
    );
    b.writeByte(7);
    assert.equal(b.readByte(), 7);
    b.unreadByte();
    assert.throws(() => b.unreadByte(), UsageError, "only one unread after a read");
  });

  it("extend hands out a writable view of the appended bytes", () => {
    const b = new ByteBuffer();
    b.writeString("ab");
    const v = b.extend(3);
    v.write("cde");
    assert.equal(b.toString(), "abcde");
    assert.throws(() => b.extend(-1), UsageError);
  });

  it("grow(n) makes room for n bytes without changing the contents", () => {
    const b = new ByteBuffer();
    b.writeString("xyz");
    b.grow(1000);
    assert.equal(b.toString(), "xyz");
    assert.ok(b.available >= 1000);
    const storage = b.storage;
    b.write(new Uint8Array(1000));
    assert.equal(b.storage, storage, "no allocation after grow");
    assert.throws(() => b.grow(-1), UsageError);
  });

  it("truncate keeps the first n unread bytes and rejects out-of-range values", () => {
    const b = new ByteBuffer();
    b.writeString("hello");
    b.next(1);
    b.truncate(2);
    assert.equal(b.toString(), "el");
    assert.throws(
      () => b.truncate(3),
      (e: unknown) => e instanceof UsageError && e.code === "ERR_OUT_OF_RANGE",
    );
    assert.throws(() => b.truncate(-1), UsageError);
    b.truncate(0);
    assert.equal(b.len, 0);
    assert.equal(b.off, 0);
  });

  it("enforces a configured maximum size with a typed error", () => {
    const b = new ByteBuffer(0, { maxSize: 100 });
    b.write(new Uint8Array(60));
    b.write(new Uint8Array(40));
    assert.throws(
      () => b.writeByte(1),
      (e: unknown) =>
        e instanceof LimitError && e.code === "ERR_BUFFER_TOO_LARGE" && e.closeCode === 1009,
    );
    assert.equal(b.len, 100, "the failed write changed nothing");
    b.next(50);
    b.write(new Uint8Array(50)); // unread bytes count, not the capacity
    assert.equal(b.len, 100);
    assert.throws(() => b.grow(1), LimitError);
    assert.throws(() => new ByteBuffer(0, { maxSize: -1 }), UsageError);
    assert.throws(() => new ByteBuffer(-5), UsageError);
  });
});
