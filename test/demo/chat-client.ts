// A chat client for the tests, on `ws`: every JSON message is kept from the first one on (even one
// that arrives in the same packet as the 101), and `until` waits for one that matches.
import { once } from "node:events";
import WebSocket from "ws";

/** A JSON message of the chat. */
export type ChatMessage = Record<string, unknown>;

/** A connected chat client. */
export interface ChatClient {
  readonly ws: WebSocket;
  /** Every message received, in order. */
  readonly got: ChatMessage[];
  /** Resolves with the first message, already received or to come, that satisfies `test`. */
  until(test: (m: ChatMessage) => boolean): Promise<ChatMessage>;
  /** Resolves with the first message of `type` received after the messages already handed out. */
  next(type: string): Promise<ChatMessage>;
  send(m: object): void;
  /** Closes and waits for the close handshake to finish. */
  close(): Promise<void>;
}

/** Opens `ws(s)://.../chat` for the demo at `url` (its http:// address). */
export async function chatClient(url: string): Promise<ChatClient> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}chat`);
  const got: ChatMessage[] = [];
  let handed = 0;
  const waiting: { test: (m: ChatMessage) => boolean; resolve: (m: ChatMessage) => void }[] = [];
  ws.on("message", (data: Buffer) => {
    const m = JSON.parse(data.toString()) as ChatMessage;
    got.push(m);
    for (const w of waiting.splice(0)) {
      if (w.test(m)) w.resolve(m);
      else waiting.push(w);
    }
  });
  await once(ws, "open");
  const until = (test: (m: ChatMessage) => boolean): Promise<ChatMessage> => {
    const m = got.find(test);
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => waiting.push({ test, resolve }));
  };
  return {
    ws,
    got,
    until,
    next(type) {
      const from = handed;
      return until((m) => m.type === type && got.indexOf(m) >= from).then((m) => {
        handed = got.indexOf(m) + 1;
        return m;
      });
    },
    send(m) {
      ws.send(JSON.stringify(m));
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = once(ws, "close");
      ws.close();
      await closed;
    },
  };
}
