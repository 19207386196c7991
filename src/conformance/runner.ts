/**
 * The server role of the suite (Autobahn's "fuzzing client"): run each case against a server
 * that echoes every message, one connection per case, one case at a time.
 *
 * @module
 */

import { ALL_CASES } from "./cases/index.js";
import { dial } from "./dial.js";
import { neverOpened } from "./failed-result.js";
import { runSession } from "./session.js";
import type { CaseResult, ConformanceCase } from "./types.js";

/** Options of {@link runServerSuite}. */
export interface ServerSuiteOptions {
  /** The echo server, `ws://host:port/path` or `wss://...`. */
  readonly url: string | URL;
  /** The cases to run, in order (default: all). */
  readonly cases?: readonly ConformanceCase[];
  /** The name of the server in the reports (default: its `Server` header, else its host). */
  readonly agent?: string;
  /** Shorter bulk cases (see {@link CaseSettings.quick}). */
  readonly quick?: boolean;
  /** For `wss:`: verify the certificate (default true). */
  readonly rejectUnauthorized?: boolean;
  /** Called after each case. */
  readonly onResult?: (result: CaseResult, index: number, total: number) => void;
  /** Stops after the current case. */
  readonly signal?: AbortSignal;
}

/** Runs the cases one after the other and returns their results in order. */
export async function runServerSuite(options: ServerSuiteOptions): Promise<CaseResult[]> {
  const url = typeof options.url === "string" ? new URL(options.url) : options.url;
  const cases = options.cases ?? ALL_CASES;
  const settings = { quick: options.quick === true };
  let agent = options.agent;
  const results: CaseResult[] = [];
  for (const [i, spec] of cases.entries()) {
    if (options.signal?.aborted) break;
    let result: CaseResult;
    try {
      const d = await dial(url, {
        offers: spec.deflate?.offers ?? [],
        ...(options.rejectUnauthorized !== undefined
          ? { rejectUnauthorized: options.rejectUnauthorized }
          : {}),
      });
      if (agent === undefined) {
        const server = d.headers.server;
        agent = (Array.isArray(server) ? server[0] : server) ?? url.host;
      }
      result = await runSession(spec, {
        socket: d.socket,
        head: d.head,
        role: "client",
        deflate: d.deflate,
        agent,
        httpRequest: d.request,
        httpResponse: d.response,
        settings,
      });
    } catch (error) {
      result = neverOpened(
        spec,
        agent ?? url.host,
        error instanceof Error ? error.message : String(error),
      );
    }
    results.push(result);
    options.onResult?.(result, i, cases.length);
  }
  return results;
}
