/**
 * Memory of the stack's processes while a phase runs:
 *
 * - `RssSampler`: resident memory (VmRSS from /proc) of named processes, sampled every second,
 *   so a phase reports its own peak and how memory moved with progress (VmHWM, which
 *   ManagedProcess reads, is the peak since the process started, across phases);
 * - `heapFigures`: what bench/memory-probe.ts (preloaded into the worker and the API) recorded:
 *   V8 heap used per thread — the main thread and the SDK's workflow thread separately — plus the
 *   process's external and ArrayBuffer memory;
 * - `heapSnapshots`: ask a probed process for a heap snapshot of every thread and summarise them.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectPath } from '../src/tools/paths';
import { summariseHeapSnapshot, type HeapSummary } from './heap-summary';
import type { ThreadMemory } from './memory-probe';
import { sleep } from './load';
import { round } from './stats';

/** Node arguments that preload the memory probe (after tsx, so it may be TypeScript). */
export function memoryProbeArgs(): string[] {
  return ['--require', projectPath('bench', 'memory-probe.ts')];
}

export interface RssSeries {
  peakBytes: number;
  lastBytes: number;
  /** [seconds since the sampler started, bytes], at most ~200 points (evenly thinned). */
  samples: [number, number][];
}

export function readRss(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  private readonly started = Date.now();
  private readonly series = new Map<string, { peak: number; last: number; samples: [number, number][] }>();
  private readonly timer: NodeJS.Timeout;

  /** `pids()` is asked at every sample, so a restarted process is followed. */
  constructor(private readonly pids: () => Record<string, number | undefined>, everyMs = 1000) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  /** The peak so far, by process. */
  peak(name: string): number | undefined {
    return this.series.get(name)?.peak;
  }

  stop(): Record<string, RssSeries> {
    clearInterval(this.timer);
    this.sample();
    const result: Record<string, RssSeries> = {};
    for (const [name, s] of this.series) {
      const step = Math.max(1, Math.ceil(s.samples.length / 200));
      result[name] = { peakBytes: s.peak, lastBytes: s.last, samples: s.samples.filter((_, i) => i % step === 0 || i === s.samples.length - 1) };
    }
    return result;
  }

  private sample(): void {
    const t = round((Date.now() - this.started) / 1000, 1);
    for (const [name, pid] of Object.entries(this.pids())) {
      if (pid === undefined) continue;
      const rss = readRss(pid);
      if (rss === undefined) continue;
      const s = this.series.get(name) ?? { peak: 0, last: 0, samples: [] };
      s.peak = Math.max(s.peak, rss);
      s.last = rss;
      s.samples.push([t, rss]);
      this.series.set(name, s);
    }
  }
}

export interface HeapFigures {
  /** The main thread: activities, the SDK's worker machinery, the process's native memory. */
  main?: { heapUsedPeakBytes: number; heapUsedBytes: number; rssPeakBytes?: number; externalPeakBytes?: number; externalBytes?: number; arrayBuffersPeakBytes?: number };
  /** Other threads (in the worker: the SDK's workflow thread, where cached workflows live). */
  threads: { threadId: number; heapUsedPeakBytes: number; heapUsedBytes: number }[];
}

/** What the probe recorded for this process so far (peaks since it started; current values). */
export function heapFigures(dir: string, pid: number): HeapFigures {
  const figures: HeapFigures = { threads: [] };
  if (!existsSync(dir)) return figures;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${pid}-`) || !name.endsWith('.json')) continue;
    let t: ThreadMemory;
    try {
      t = JSON.parse(readFileSync(join(dir, name), 'utf8')) as ThreadMemory;
    } catch {
      continue;
    }
    if (t.mainThread) {
      figures.main = {
        heapUsedPeakBytes: t.heapUsed.peak,
        heapUsedBytes: t.heapUsed.last,
        rssPeakBytes: t.rss?.peak,
        externalPeakBytes: t.external?.peak,
        externalBytes: t.external?.last,
        arrayBuffersPeakBytes: t.arrayBuffers?.peak,
      };
    } else figures.threads.push({ threadId: t.threadId, heapUsedPeakBytes: t.heapUsed.peak, heapUsedBytes: t.heapUsed.last });
  }
  figures.threads.sort((a, b) => a.threadId - b.threadId);
  return figures;
}

/**
 * A heap snapshot of every thread of a probed process, summarised (the snapshot files stay in
 * `dir` for a closer look in Chrome DevTools). The process pauses while V8 writes each one.
 */
export async function heapSnapshots(dir: string, pid: number, label: string, timeoutMs = 300_000): Promise<(HeapSummary & { threadId: number })[]> {
  const threads = readdirSync(dir).filter((n) => n.startsWith(`${pid}-`) && n.endsWith('.json')).map((n) => Number(n.slice(`${pid}-`.length, -'.json'.length)));
  writeFileSync(join(dir, `snapshot-${pid}`), label);
  const fileOf = (threadId: number) => join(dir, `${label}-${pid}-${threadId}.heapsnapshot`);
  const deadline = Date.now() + timeoutMs;
  while (!threads.every((t) => existsSync(`${fileOf(t)}.done`))) {
    if (Date.now() > deadline) throw new Error(`heap snapshots of process ${pid} not written within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
  return threads.map((threadId) => ({ threadId, ...summariseHeapSnapshot(fileOf(threadId), 12) }));
}
