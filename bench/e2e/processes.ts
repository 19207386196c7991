/**
 * Child processes of the runner: a server or the load generator, each started with `node --import
 * tsx`, pinned to a core with `taskset` when it is installed, with a raised open-file limit when
 * the scenario needs more descriptors than the soft limit, and talked to over IPC.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function which(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Whether `taskset` is on the PATH (util-linux). */
export const HAS_TASKSET: boolean = process.platform === "linux" && which("taskset");

/** The open-file limits of a shell started from here: soft and hard. */
export function fileLimits(): { soft: number; hard: number } {
  try {
    const out = execFileSync("sh", ["-c", "ulimit -Sn; ulimit -Hn"], { encoding: "utf8" });
    const [soft, hard] = out
      .trim()
      .split(/\s+/)
      .map((v) => (v === "unlimited" ? Number.POSITIVE_INFINITY : Number(v)));
    return { soft: soft ?? 1024, hard: hard ?? soft ?? 1024 };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/** How to start a child. */
export interface SpawnOptions {
  /** The TypeScript file to run, relative to the repository root. */
  readonly script: string;
  readonly args?: readonly string[];
  /** Node flags before `--import tsx` (e.g. `--expose-gc`, `--cpu-prof`). */
  readonly nodeFlags?: readonly string[];
  /** The core to pin to, when `taskset` is installed. */
  readonly core?: number;
  /** Open files the child needs; the soft limit is raised in a wrapping shell when below. */
  readonly files?: number;
}

/**
 * A child process with an IPC channel; replies are awaited by type. Its stdout and stderr go to
 * the runner's stderr, so that `--json` output on stdout stays clean.
 */
export class Child<Command, Reply extends { type: string }> {
  private readonly proc: ChildProcess;
  private readonly queue: Reply[] = [];
  private readonly waiters: { type: string; resolve: (r: Reply) => void }[] = [];
  private exitError: Error | undefined;
  private readonly exited: Promise<void>;

  constructor(options: SpawnOptions, fatal?: (r: Reply) => string | undefined) {
    let cmd = [process.execPath, ...(options.nodeFlags ?? []), "--import", "tsx", options.script];
    cmd.push(...(options.args ?? []));
    if (HAS_TASKSET && options.core !== undefined)
      cmd = ["taskset", "-c", String(options.core), ...cmd];
    const need = options.files ?? 0;
    const limits = fileLimits();
    if (need > limits.soft) {
      const n = Math.min(limits.hard, Math.max(need, 4096));
      cmd = ["sh", "-c", `ulimit -n ${n} && exec "$@"`, "sh", ...cmd];
    }
    this.proc = spawn(cmd[0] as string, cmd.slice(1), {
      cwd: ROOT,
      stdio: ["ignore", 2, 2, "ipc"],
    });
    this.proc.on("message", (r: Reply) => {
      const message = fatal?.(r);
      if (message !== undefined) {
        this.fail(new Error(`${options.script}: ${message}`));
        return;
      }
      const i = this.waiters.findIndex((w) => w.type === r.type);
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w?.resolve(r);
      } else {
        this.queue.push(r);
      }
    });
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        if (code !== 0 && this.exitError === undefined) {
          this.fail(new Error(`${options.script} exited with ${signal ?? code}`));
        }
        resolve();
      });
    });
    this.proc.on("error", (e) => this.fail(e));
  }

  private readonly rejects = new Set<(e: Error) => void>();

  private fail(e: Error): void {
    this.exitError ??= e;
    for (const r of this.rejects) r(e);
    this.rejects.clear();
  }

  /** The process id (of `taskset`'s exec, which is the node process). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Sends a command. */
  send(command: Command): void {
    if (this.proc.connected) this.proc.send(command as object);
  }

  /** The next reply of `type`, or a rejection if the child fails first or `ms` pass. */
  next<T extends Reply["type"]>(type: T, ms = 120_000): Promise<Extract<Reply, { type: T }>> {
    const i = this.queue.findIndex((r) => r.type === type);
    if (i >= 0) {
      const [r] = this.queue.splice(i, 1);
      return Promise.resolve(r as Extract<Reply, { type: T }>);
    }
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.rejects.delete(reject);
        reject(new Error(`no '${type}' reply within ${ms} ms`));
      }, ms);
      this.rejects.add(reject);
      this.waiters.push({
        type,
        resolve: (r) => {
          clearTimeout(timer);
          this.rejects.delete(reject);
          resolve(r as Extract<Reply, { type: T }>);
        },
      });
    });
  }

  /** Resolves when the process has exited; kills it after `ms`. */
  async exit(ms = 5000): Promise<void> {
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), ms);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the process now. */
  kill(): void {
    this.proc.kill("SIGKILL");
  }
}
