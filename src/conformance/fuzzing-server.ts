/**
 * The client role of the suite (Autobahn's "fuzzing server"): a WebSocket server that a client
 * under test drives through Autobahn's HTTP protocol.
 *
 * - `/getCaseCount`: one text message with the number of cases, then a close;
 * - `/runCase?case=N&agent=NAME`: runs case N (1-based) on this connection; the client echoes
 *   every message with its type until the connection closes;
 * - `/updateReports?agent=NAME`: writes the reports, then closes;
 * - `/getCaseInfo?case=N` and `/getCaseStatus?case=N&agent=NAME`: one JSON text message with
 *   the case's id and description, or its verdict once it has run.
 *
 * Plain HTTP GET requests are served the report files.
 *
 * @module
 */

import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join, normalize } from "node:path";
import { HandshakeError } from "../errors.js";
import { parseExtensions } from "../protocol/extension-header.js";
import {
  buildRefusal,
  buildRefusalFor,
  buildResponse,
  validateRequest,
} from "../protocol/handshake.js";
import { ALL_CASES } from "./cases/index.js";
import { neverOpened } from "./failed-result.js";
import { FrameReader } from "./frame-reader.js";
import { closePayload, encodeFrame } from "./raw-frame.js";
import type { ResultsByAgent } from "./report-files.js";
import { writeReports } from "./reports.js";
import { runSession } from "./session.js";
import type { CaseResult, ConformanceCase, NegotiatedDeflate } from "./types.js";

/** Options of {@link startFuzzingServer}. */
export interface FuzzingServerOptions {
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** The cases, numbered from 1 in this order (default: all). */
  readonly cases?: readonly ConformanceCase[];
  /** Where `/updateReports` writes the reports; none are written without it. */
  readonly outDir?: string;
  /** Shorter bulk cases. */
  readonly quick?: boolean;
  /** Called after each case. */
  readonly onResult?: (result: CaseResult, index: number, total: number) => void;
  /** Called after `/updateReports`, with the agent named in the request (if any). */
  readonly onReports?: (agent: string | undefined) => void;
}

/** A running fuzzing server. */
export interface FuzzingServer {
  readonly port: number;
  readonly cases: readonly ConformanceCase[];
  /** Results by agent, then case id. */
  readonly results: ResultsByAgent;
  /** The results of `agent`, in case order. */
  resultsOf(agent: string): CaseResult[];
  /** Writes the reports of every agent into `outDir` (no-op without it). */
  writeReports(): Promise<void>;
  /** Stops accepting, ends open connections. */
  close(): Promise<void>;
}

/** Serves a control connection: send `text` (if any), close, wait for the client's close. */
function control(socket: Socket, head: Buffer, text: string | null): void {
  if (text !== null)
    socket.write(
      encodeFrame({ opcode: 1, fin: true, rsv: 0, payload: Buffer.from(text), mask: null }),
    );
  socket.write(
    encodeFrame({ opcode: 8, fin: true, rsv: 0, payload: closePayload(1000), mask: null }),
  );
  const reader = new FrameReader();
  const timer = setTimeout(() => socket.destroy(), 2000);
  const onData = (chunk: Buffer) => {
    if (reader.push(chunk).some((f) => f.opcode === 8) || reader.error !== null) {
      clearTimeout(timer);
      socket.end();
    }
  };
  socket.on("data", onData);
  socket.on("error", () => {});
  socket.on("close", () => clearTimeout(timer));
  if (head.length > 0) onData(head);
}

function requestText(req: IncomingMessage): string {
  let s = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    s += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  }
  return s;
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
};

/** Starts the fuzzing server. */
export async function startFuzzingServer(
  options: FuzzingServerOptions = {},
): Promise<FuzzingServer> {
  const cases = options.cases ?? ALL_CASES;
  const settings = { quick: options.quick === true };
  const results = new Map<string, Map<string, CaseResult>>();
  const waiting = new Map<string, ((r: CaseResult) => void)[]>();
  const sockets = new Set<Socket>();

  const store = (r: CaseResult, index: number) => {
    let byId = results.get(r.agent);
    if (byId === undefined) {
      byId = new Map();
      results.set(r.agent, byId);
    }
    byId.set(r.id, r);
    const key = `${r.agent}\n${r.id}`;
    for (const w of waiting.get(key) ?? []) w(r);
    waiting.delete(key);
    options.onResult?.(r, index, cases.length);
  };

  const write = async () => {
    if (options.outDir !== undefined) await writeReports(options.outDir, results);
  };

  const server = createServer(async (req, res) => {
    // The reports, read-only.
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const file = path === "/" ? "index.html" : path.slice(1);
    if (options.outDir === undefined || file.includes("..") || file.includes("/")) {
      res.writeHead(404).end("not found\n");
      return;
    }
    try {
      const body = await readFile(join(options.outDir, file));
      res.writeHead(200, {
        "content-type": TYPES[file.slice(file.lastIndexOf("."))] ?? "text/plain",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end("no report yet: run a client against /runCase, then /updateReports\n");
    }
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://x");
    let key: string;
    let extensions: string | undefined;
    try {
      ({ key, extensions } = validateRequest({
        method: req.method ?? "",
        httpVersion: req.httpVersion,
        headers: req.headers,
      }));
    } catch (error) {
      socket.end(error instanceof HandshakeError ? buildRefusalFor(error) : buildRefusal(400));
      return;
    }
    const agent = url.searchParams.get("agent") ?? undefined;
    const n = Number(url.searchParams.get("case"));
    const spec = Number.isInteger(n) && n >= 1 ? cases[n - 1] : undefined;
    const open = (ext?: string) =>
      socket.write(buildResponse(key, ext === undefined ? {} : { extensions: ext }));

    switch (url.pathname) {
      case "/getCaseCount":
        open();
        control(socket, head, JSON.stringify(cases.length));
        return;
      case "/getCaseInfo":
        if (spec === undefined) break;
        open();
        control(socket, head, JSON.stringify({ id: spec.id, description: spec.description }));
        return;
      case "/getCaseStatus": {
        if (spec === undefined || agent === undefined) break;
        open();
        const done = results.get(agent)?.get(spec.id);
        if (done !== undefined) {
          control(socket, head, JSON.stringify({ behavior: done.behavior }));
        } else {
          const k = `${agent}\n${spec.id}`;
          waiting.set(k, [
            ...(waiting.get(k) ?? []),
            (r) => control(socket, Buffer.alloc(0), JSON.stringify({ behavior: r.behavior })),
          ]);
        }
        return;
      }
      case "/updateReports":
        open();
        write()
          .catch((error: unknown) => process.stderr.write(`reports: ${(error as Error).message}\n`))
          .finally(() => {
            options.onReports?.(agent);
            control(socket, head, null);
          });
        return;
      case "/runCase": {
        if (spec === undefined) break;
        const who = agent ?? "unnamed";
        const httpRequest = requestText(req);
        let deflate: NegotiatedDeflate | null = null;
        if (spec.deflate !== undefined) {
          try {
            const offers = parseExtensions(extensions)
              .filter((e) => e.name === "permessage-deflate")
              .map((e) => e.params);
            const accepted = spec.deflate.accept(offers);
            if (accepted !== null) {
              deflate = {
                response: accepted.response,
                localNoContextTakeover: accepted.serverNoContextTakeover,
                localWindowBits: accepted.serverWindowBits,
                remoteNoContextTakeover: accepted.clientNoContextTakeover,
              };
            }
          } catch (error) {
            socket.end(buildRefusal(400));
            store(
              neverOpened(
                spec,
                who,
                `invalid Sec-WebSocket-Extensions: ${(error as Error).message}`,
                { request: httpRequest },
              ),
              n - 1,
            );
            return;
          }
        }
        const response = buildResponse(
          key,
          deflate === null ? {} : { extensions: deflate.response },
        );
        socket.write(response);
        runSession(spec, {
          socket,
          head,
          role: "server",
          deflate,
          agent: who,
          httpRequest,
          httpResponse: response,
          settings,
        }).then((r) => store(r, n - 1));
        return;
      }
    }
    socket.end(buildRefusal(404, {}, `unknown request ${url.pathname}${url.search}\n`));
  });

  server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    cases,
    results,
    resultsOf(agent: string) {
      const byId = results.get(agent);
      return byId === undefined ? [] : cases.flatMap((c) => byId.get(c.id) ?? []);
    },
    writeReports: write,
    close() {
      return new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
