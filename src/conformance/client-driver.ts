/**
 * The client-driver: drives a WebSocket client through a fuzzing server's HTTP protocol (this
 * suite's `conformance client`, or Autobahn's own fuzzing server): ask the number of cases,
 * connect to each case and echo everything it receives with the same type, then ask for the
 * reports. Verdicts are the fuzzing server's to give.
 *
 * The client is passed in, so that any implementation can be driven; the `tidews conformance
 * client-driver` command passes the tidews client once it exists, the tests pass `ws`.
 *
 * @module
 */

import { createError } from "../errors.js";

/** What the driver needs from a WebSocket client. */
export interface DriverClient {
  /**
   * Connects to `url`, echoes every message with its type (text as text, binary as binary)
   * until the connection closes, and resolves then. Rejects only when it could not connect.
   */
  echo(url: string): Promise<void>;
  /** Connects to `url` and resolves with the first text message it receives. */
  firstText(url: string): Promise<string>;
}

/** Options of {@link runClientDriver}. */
export interface ClientDriverOptions {
  /** The fuzzing server, e.g. `ws://127.0.0.1:9001`. */
  readonly url: string;
  /** The name the results are filed under. */
  readonly agent: string;
  readonly client: DriverClient;
  /** Called before each case, numbered from 1. */
  readonly onCase?: (n: number, total: number) => void;
}

/**
 * Runs every case of the fuzzing server, then asks it to write the reports.
 *
 * @returns the number of cases run
 * @throws {@link UsageError} `ERR_INVALID_ARGUMENT` when the case count is not a number; the
 *   client's errors when it cannot connect
 */
export async function runClientDriver(options: ClientDriverOptions): Promise<number> {
  const base = options.url.replace(/\/+$/, "");
  const agent = encodeURIComponent(options.agent);
  const text = await options.client.firstText(`${base}/getCaseCount`);
  const count = Number(text);
  if (!Number.isInteger(count) || count < 0) {
    throw createError("ERR_INVALID_ARGUMENT", `getCaseCount answered "${text.slice(0, 40)}"`);
  }
  for (let n = 1; n <= count; n++) {
    options.onCase?.(n, count);
    await options.client.echo(`${base}/runCase?case=${n}&agent=${agent}`);
  }
  await options.client.echo(`${base}/updateReports?agent=${agent}`);
  return count;
}
