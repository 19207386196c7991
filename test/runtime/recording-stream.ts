import type { ByteStream } from "../../src/runtime/connection.js";

/** A ByteStream that records each write (a copy) and completes it at once; counts corks. */
export class RecordingStream implements ByteStream {
  readonly writes: Buffer[] = [];
  corks = 0;
  writableLength = 0;
  writableNeedDrain = false;
  write(data: Uint8Array, callback: (error?: Error | null) => void): boolean {
    this.writes.push(Buffer.from(data));
    callback();
    return true;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {}
  end(): void {}
  destroy(): void {}
  pause(): void {}
  resume(): void {}
}
