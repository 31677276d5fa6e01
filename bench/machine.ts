/** What the figures came from: the machine, how busy it already was, and which code. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem, availableParallelism, release } from 'node:os';
import { projectPath } from '../src/tools/paths';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  os: string;
  node: string;
  /** 1-minute load average when the run started and ended: other work on a shared box shows here. */
  loadAverage: { start: number; end?: number };
  gitCommit?: string;
  /** Uncommitted changes in the working tree when the run started. */
  gitDirty?: boolean;
}

export function machineInfo(): MachineInfo {
  const model = cpus()[0]?.model?.trim() ?? 'unknown';
  return {
    cores: availableParallelism(),
    cpuModel: model,
    memoryBytes: totalmem(),
    os: `${process.platform} ${release()}`,
    node: process.version,
    loadAverage: { start: loadavg()[0]! },
    ...gitState(),
  };
}

export function currentLoad(): number {
  return loadavg()[0]!;
}

function gitState(): { gitCommit?: string; gitDirty?: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectPath(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: projectPath(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { gitCommit: commit, gitDirty: status.trim().length > 0 };
  } catch {
    return {};
  }
}
