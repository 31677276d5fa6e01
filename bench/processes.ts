/**
 * Child processes for the bench and fault stacks: each in its own process group (so a `tsx` or
 * `node` launcher and anything it starts stop together), its output kept in a log file and a
 * short in-memory tail instead of the terminal (a burst logs thousands of lines), and its CPU
 * time and peak memory readable from /proc while it runs.
 *
 * Unlike src/tools/supervisor.ts (one terminal, stop everything at the end) a stack here must
 * stop, SIGKILL and restart single processes, which is what faults are made of.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout and stderr go (appended, so a restarted process continues its log). */
  logFile: string;
  /** Run as this user and group (e.g. PostgreSQL, which refuses to run as root). */
  uid?: number;
  gid?: number;
  /** What stop() sends first (default SIGTERM; PostgreSQL's fast shutdown is SIGINT). */
  stopSignal?: NodeJS.Signals;
  /**
   * Signal the whole process group (default) or only the process: a PostgreSQL postmaster must be
   * the only one told to shut down, its backends follow it. SIGKILL always goes to the group.
   */
  signalGroup?: boolean;
  /** Every output line, as it arrives (e.g. to print it prefixed on a terminal). */
  onLine?: (line: string) => void;
}

/** What /proc says about a process: CPU seconds (its own plus reaped children's) and peak resident memory. */
export interface ProcessUsage {
  pid: number;
  cpuSeconds: number;
  /** VmHWM: the peak resident set size, in bytes. */
  peakRssBytes: number;
}

const TAIL_LINES = 200;

/**
 * Every child still running. Each sits in its own process group, so a bench or test process that
 * dies (an exception, Ctrl-C) would leave them behind: on exit and on SIGINT/SIGTERM they are
 * SIGKILLed first.
 */
const live = new Set<ManagedProcess>();
let guardsInstalled = false;

/**
 * A program that stops its children itself, in order, on SIGINT/SIGTERM (`npm run cluster`) turns
 * the signal guard off; the exit guard stays, so nothing outlives the program.
 */
export const exitGuards = { onSignals: true };

function installExitGuards(): void {
  if (guardsInstalled) return;
  guardsInstalled = true;
  const killAll = () => {
    for (const child of live) child.signal('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (!exitGuards.onSignals) return;
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
const CLOCK_TICKS_PER_SECOND = 100; // Linux USER_HZ, fixed at 100 on every mainstream architecture

export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal name) when the process has gone. */
  readonly exited: Promise<string>;
  private readonly tail: string[] = [];
  private readonly watchers = new Set<(line: string) => void>();
  private readonly log: WriteStream;
  private lastUsage: ProcessUsage | undefined;
  private readonly stopSignal: NodeJS.Signals;
  private readonly signalGroup: boolean;
  private readonly lineListener?: (line: string) => void;

  constructor(spec: ProcessSpec) {
    this.name = spec.name;
    this.stopSignal = spec.stopSignal ?? 'SIGTERM';
    this.signalGroup = spec.signalGroup ?? true;
    this.lineListener = spec.onLine;
    this.log = createWriteStream(spec.logFile, { flags: 'a' });
    this.child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: signals reach the whole group
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
    });
    if (this.child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.command}`);
    this.pid = this.child.pid;
    installExitGuards();
    live.add(this);
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        resolve(signal ?? `code ${code}`);
      });
      this.child.once('error', (err) => {
        this.onLine(`failed to start: ${err.message}`);
        resolve('spawn error');
      });
    });
    void this.exited.then(() => {
      live.delete(this);
      this.log.end();
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process wrote (for error messages). */
  recentOutput(lines = 30): string {
    return this.tail.slice(-lines).join('\n');
  }

  /** Resolves when a line matching `pattern` appears; rejects if the process exits first or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.tail.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${this.name}: no line matching ${pattern} within ${timeoutMs / 1000}s\n${this.recentOutput()}`)), timeoutMs);
      const watcher = (line: string) => {
        if (pattern.test(line)) finish(undefined, line);
      };
      const finish = (err?: Error, line?: string) => {
        clearTimeout(timer);
        this.watchers.delete(watcher);
        if (err) reject(err);
        else resolve(line!);
      };
      this.watchers.add(watcher);
      void this.exited.then((how) => finish(new Error(`${this.name} exited (${how}) while starting\n${this.recentOutput()}`)));
    });
  }

  /** Send a signal to the process group (or, for a process that asked so, to the process alone; SIGKILL always to the group). */
  signal(signal: NodeJS.Signals): void {
    this.sampleUsage();
    try {
      process.kill(this.signalGroup || signal === 'SIGKILL' ? -this.pid : this.pid, signal);
    } catch {
      // already gone
    }
  }

  /** The stop signal (SIGTERM unless the spec says otherwise), then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.signal(this.stopSignal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.signal('SIGKILL'); // a launcher may have left a child behind
  }

  /** SIGKILL the group and wait for the exit: a crash, as far as the process can tell. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** CPU and peak memory now; after the process has gone, the last sample taken while it ran. */
  usage(): ProcessUsage | undefined {
    return this.sampleUsage() ?? this.lastUsage;
  }

  private sampleUsage(): ProcessUsage | undefined {
    const sample = readProcessUsage(this.pid);
    if (sample) this.lastUsage = sample;
    return sample;
  }

  private onLine(line: string): void {
    this.log.write(`${line}\n`);
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    for (const watcher of this.watchers) watcher(line);
    this.lineListener?.(line);
  }
}

/** CPU seconds (user + system, including reaped children such as the CEG simulator's openssl runs) and VmHWM. */
export function readProcessUsage(pid: number): ProcessUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return { pid, cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}
