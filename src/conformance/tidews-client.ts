/**
 * The tidews client as the client-driver's client: echo every message with its type, as a
 * client under Autobahn's fuzzing server is expected to.
 *
 * @module
 */

import { ClientContext } from "../client/client-context.js";
import { connect } from "../client/connect.js";
import type { DriverClient } from "./client-driver.js";

/** 9.1.6 and 9.2.6 send 16 MiB messages; leave room above. */
const MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * A {@link DriverClient} on the tidews client. One context (buffer pool, zlib contexts) serves
 * every connection of a run.
 */
export function tidewsDriverClient(context: ClientContext = new ClientContext()): DriverClient {
  return {
    echo(url: string): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        connect(
          url,
          {
            onMessage(conn, message) {
              if (conn.readyState === 1) conn.send(message);
            },
            onClose() {
              resolve();
            },
            // Errors after the open are the cases' business: the fuzzing server judges them.
            onError() {},
          },
          // A loaded CI machine runs the fuzzing server in the same process: be patient.
          { context, maxMessageSize: MAX_MESSAGE, handshakeTimeout: 60_000 },
        ).catch(reject);
      });
    },
    firstText(url: string): Promise<string> {
      return new Promise<string>((resolve, reject) => {
        connect(
          url,
          {
            onMessage(_conn, message) {
              resolve(message.data.toString("utf8"));
            },
            onClose() {
              reject(new Error(`${url} closed before sending a text message`));
            },
          },
          { context, handshakeTimeout: 60_000 },
        ).catch(reject);
      });
    },
  };
}
