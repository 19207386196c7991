// Drives a Python script of test/interop/peers/ over stdin/stdout: one JSON command per line, one
// JSON answer per line, in order. A failed command rejects with the Python error.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export type Answer = Record<string, unknown>;

const PEERS = fileURLToPath(new URL("./peers/", import.meta.url));

export class PythonPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<
    number,
    { resolve(a: Answer): void; reject(e: Error): void }
  >();
  private nextId = 1;
  private stderr = "";
  private exited = false;
  /** Lines the script printed that are not answers (a server's "listening <port>", events). */
  readonly lines: string[] = [];
  private readonly lineWaiters: ((line: string) => void)[] = [];

  constructor(python: string, script: string, args: readonly string[] = []) {
    this.child = spawn(python, ["-u", script, ...args], { cwd: PEERS, stdio: "pipe" });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (s: string) => {
      this.stderr += s;
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.onLine(line));
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      const error = new Error(`${script} exited (${code ?? signal}): ${this.stderr.slice(-2000)}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    });
  }

  private onLine(line: string): void {
    const answer = line.startsWith("{") ? (JSON.parse(line) as Answer) : undefined;
    const id = answer?.id;
    if (answer === undefined || typeof id !== "number") {
      const waiter = this.lineWaiters.shift();
      if (waiter === undefined) this.lines.push(line);
      else waiter(line);
      return;
    }
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    if (answer.ok === true) p.resolve(answer);
    else p.reject(new Error(`python: ${String(answer.error)}`));
  }

  /** The next line that is not an answer: the oldest not yet taken. */
  line(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.exited) return Promise.reject(new Error(`exited: ${this.stderr.slice(-2000)}`));
    return new Promise((resolve) => this.lineWaiters.push(resolve));
  }

  request(op: string, args: Record<string, unknown> = {}): Promise<Answer> {
    if (this.exited) return Promise.reject(new Error(`exited: ${this.stderr.slice(-2000)}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = once(this.child, "exit");
    this.child.stdin.end();
    this.child.kill("SIGTERM");
    await exited;
  }
}

/** Hex of a string's UTF-8 bytes or of bytes. */
export function hex(data: string | Uint8Array): string {
  return Buffer.from(data).toString("hex");
}
