// The tidews client side of the interop tests: a loader that finds `connect` in src/client/ once
// it exists, and a handler that queues what one client connection receives.
import { existsSync } from "node:fs";
import type { Connection, ConnectionCloseInfo, Handler } from "../../src/runtime/connection.js";
import type { Message } from "../../src/runtime/message.js";
import { EventRecorder } from "../helpers/interop.js";

/** The part of the client's documented options these tests use. */
export interface ClientConnectOptions {
  readonly protocols?: readonly string[];
  readonly perMessageDeflate?: boolean | Record<string, unknown>;
  readonly maxMessageSize?: number;
  readonly handshakeTimeout?: number;
}

/** `connect(url, handler, options)` as src/client/index.ts documents it. */
export interface ClientApi {
  connect<S>(
    url: string,
    handler: Handler<S>,
    options?: ClientConnectOptions,
  ): Promise<Connection<S>>;
}

const CLIENT_MODULE = new URL("../../src/client/index.ts", import.meta.url);

/**
 * The tidews client, or a reason why it is not there yet. A module that exists but fails to load
 * is an error, not a skip.
 */
export async function loadClient(): Promise<{ api?: ClientApi; missing?: string }> {
  if (!existsSync(CLIENT_MODULE)) return { missing: "src/client/index.ts does not exist yet" };
  // A computed specifier: this file must type-check before the client module exists.
  const specifier = "../../src/client/index.js";
  const mod = (await import(specifier)) as Partial<ClientApi>;
  if (typeof mod.connect !== "function") {
    return { missing: "src/client/index.ts does not export connect yet" };
  }
  return { api: mod as ClientApi };
}

export interface ClientMessage {
  readonly isText: boolean;
  readonly data: Buffer;
}

/** The handler of one client connection: queues messages, records pings, pongs and the close. */
export class ClientPeer extends EventRecorder implements Handler {
  readonly pings: Buffer[] = [];
  readonly pongs: Buffer[] = [];
  closeInfo: ConnectionCloseInfo | undefined;
  private readonly queue: ClientMessage[] = [];
  private readonly waiters: ((m: ClientMessage) => void)[] = [];

  onMessage(_conn: Connection, message: Message): void {
    const m = { isText: message.isText, data: Buffer.from(message.data) };
    const waiter = this.waiters.shift();
    if (waiter === undefined) this.queue.push(m);
    else waiter(m);
    this.emit("event");
  }

  onPing(_conn: Connection, payload: Buffer): void {
    this.pings.push(Buffer.from(payload));
    this.emit("event");
  }

  onPong(_conn: Connection, payload: Buffer): void {
    this.pongs.push(Buffer.from(payload));
    this.emit("event");
  }

  onClose(_conn: Connection, info: ConnectionCloseInfo): void {
    this.closeInfo = info;
    this.emit("event");
  }

  onError(_conn: Connection, error: unknown): void {
    console.error("interop client handler error:", error);
  }

  next(): Promise<ClientMessage> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  closed(): Promise<ConnectionCloseInfo> {
    return this.until(() => this.closeInfo !== undefined).then(
      () => this.closeInfo as ConnectionCloseInfo,
    );
  }
}
