/**
 * The result of a case whose connection never opened (refused, or a failed handshake).
 *
 * @module
 */

import type { CaseResult, ConformanceCase } from "./types.js";

/** A FAILED result explaining why the WebSocket never opened. */
export function neverOpened(
  spec: ConformanceCase,
  agent: string,
  why: string,
  http: { request?: string; response?: string } = {},
): CaseResult {
  return {
    id: spec.id,
    description: spec.description,
    expectation: spec.expectation,
    agent,
    started: new Date().toISOString(),
    duration: 0,
    reportTime: spec.reportTime === true,
    behavior: "FAILED",
    behaviorClose: "FAILED",
    result: `The WebSocket connection never opened: ${why}`,
    resultClose: "The WebSocket opening handshake was never completed!",
    expected: {},
    expectedClose: null,
    received: [],
    closedByMe: false,
    failedByMe: false,
    droppedByMe: false,
    wasClean: false,
    wasNotCleanReason: why,
    wasServerConnectionDropTimeout: false,
    wasCloseHandshakeTimeout: false,
    localCloseCode: null,
    localCloseReason: null,
    remoteCloseCode: null,
    remoteCloseReason: null,
    isServer: false,
    httpRequest: http.request ?? "",
    httpResponse: http.response ?? "",
    wirelog: [],
    wirelogDropped: 0,
    txFrameStats: {},
    rxFrameStats: {},
  };
}
