// A private redis-server for tests: a child process on a free 127.0.0.1 port, without
// persistence, that can be stopped and started again on the same port (a Redis restart).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";

/** The redis-server binary: TIDEWS_REDIS_SERVER if set, else `redis-server` from PATH. */
export const REDIS_SERVER = process.env.TIDEWS_REDIS_SERVER ?? "redis-server";

/** The redis-server version, or undefined when it is not installed. */
export function redisServerVersion(): string | undefined {
  try {
    const out = execFileSync(REDIS_SERVER, ["--version"], { encoding: "utf8" });
    return /v=(\S+)/.exec(out)?.[1] ?? out.trim();
  } catch {
    return undefined;
  }
}

/** A free TCP port on 127.0.0.1 (free when this returns; the caller binds it right away). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One redis-server, restartable on its port. */
export class RedisProcess {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  /** Starts a redis-server on a free port and waits until it accepts connections. */
  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort());
    await redis.restart();
    return redis;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server (again) on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.child !== undefined) return;
    const child = spawn(
      REDIS_SERVER,
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    let log = "";
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes("Ready to accept connections")) {
          child.stdout?.off("data", onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.resume();
      child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${log}`)));
      child.once("error", reject);
    });
    try {
      await ready;
    } catch (error) {
      this.child = undefined;
      throw error;
    }
  }

  /** Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
  }
}
