/**
 * Preloaded by the bench into a provider process (`node --require tsx/cjs --require
 * bench/memory-probe.ts worker.ts`, with BENCH_MEMORY_DIR set) to see where its memory is. Node
 * runs preloads in worker threads too, so this runs in the main thread and in the SDK's workflow
 * thread (where every cached workflow lives) alike; each samples its own V8 heap once a second
 * and keeps its peaks in `<dir>/<pid>-<threadId>.json` (the main thread adds the process's RSS,
 * external and ArrayBuffer memory, which are process-wide).
 *
 * When the bench writes `<dir>/snapshot-<pid>` (holding a label), every thread writes a heap
 * snapshot of its own isolate within a second: `<dir>/<label>-<pid>-<threadId>.heapsnapshot`, then
 * `<same>.done`. A file, not a signal: the Temporal SDK's runtime shuts the worker down on SIGUSR2,
 * and SIGUSR1 is Node's inspector. Production processes never load this file.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

export interface ThreadMemory {
  pid: number;
  threadId: number;
  mainThread: boolean;
  samples: number;
  updatedAt: string;
  heapUsed: { peak: number; last: number };
  heapTotal: { peak: number; last: number };
  /** Main thread only: process-wide figures from process.memoryUsage(). */
  rss?: { peak: number; last: number };
  external?: { peak: number; last: number };
  arrayBuffers?: { peak: number; last: number };
}

const SAMPLE_EVERY_MS = 1000;
const CHANNEL = 'bench-memory-probe';

function start(dir: string): void {
  const file = join(dir, `${process.pid}-${threadId}.json`);
  const state: ThreadMemory = {
    pid: process.pid,
    threadId,
    mainThread: isMainThread,
    samples: 0,
    updatedAt: '',
    heapUsed: { peak: 0, last: 0 },
    heapTotal: { peak: 0, last: 0 },
  };
  const note = (figure: { peak: number; last: number }, value: number) => {
    figure.last = value;
    figure.peak = Math.max(figure.peak, value);
  };
  const sample = () => {
    if (isMainThread) snapshotIfAsked();
    const heap = getHeapStatistics();
    note(state.heapUsed, heap.used_heap_size);
    note(state.heapTotal, heap.total_heap_size);
    if (isMainThread) {
      const usage = process.memoryUsage();
      note((state.rss ??= { peak: 0, last: 0 }), usage.rss);
      note((state.external ??= { peak: 0, last: 0 }), usage.external);
      note((state.arrayBuffers ??= { peak: 0, last: 0 }), usage.arrayBuffers);
    }
    state.samples += 1;
    state.updatedAt = new Date().toISOString();
    // Written whole and renamed, so the bench never reads half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
  };
  const snapshot = (label: string) => {
    const path = join(dir, `${label}-${process.pid}-${threadId}.heapsnapshot`);
    writeHeapSnapshot(path);
    writeFileSync(`${path}.done`, '');
  };
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  const request = join(dir, `snapshot-${process.pid}`);
  function snapshotIfAsked(): void {
    let label: string;
    try {
      label = readFileSync(request, 'utf8').trim() || 'snapshot';
    } catch {
      return; // not asked
    }
    rmSync(request, { force: true });
    channel.postMessage(label); // the other threads (a channel does not deliver to its sender)
    snapshot(label);
  }
  if (!isMainThread) channel.onmessage = (message) => snapshot(String((message as MessageEvent).data));

  sample();
  setInterval(sample, SAMPLE_EVERY_MS).unref();
}

const dir = process.env.BENCH_MEMORY_DIR;
if (dir) start(dir);
