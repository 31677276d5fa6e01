/**
 * Command-line tools the project installs from PyPI into a virtual environment of their own under
 * the tool cache (`.tools/<name>/venv`, git-ignored): one pinned version each, never the system
 * site-packages, so a test run does not depend on what happens to be installed. Idempotent: a
 * second call finds the pinned version and returns at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findOnPath, ToolUnavailable } from './go-tool';
import { TOOLS_DIR } from './paths';
import { Progress, say } from './progress';

export interface PythonTool {
  /** Folder name under the tool cache, e.g. `pkilint`. */
  name: string;
  /** PyPI distribution and pinned version, e.g. `pkilint` and `0.13.3`. */
  distribution: string;
  version: string;
}

export interface InstalledPythonTool {
  /** The venv's `bin` folder: the tool's console scripts live here. */
  binDir: string;
  version: string;
}

/** The venv of `tool`, created and filled with the pinned version on first use. */
export async function ensurePythonTool(tool: PythonTool): Promise<InstalledPythonTool> {
  const root = join(TOOLS_DIR, tool.name);
  const venv = join(root, 'venv');
  const binDir = join(venv, 'bin');
  // The marker is written only after pip succeeded: a half-finished install is redone, not trusted.
  const marker = join(root, 'installed.txt');
  const wanted = `${tool.distribution}==${tool.version}`;
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === wanted && existsSync(join(binDir, 'python'))) {
    say(tool.name, `using ${venv} (${wanted})`);
    return { binDir, version: tool.version };
  }
  const python = findOnPath('python3');
  if (!python) throw new ToolUnavailable(`${tool.name} needs Python 3 (with the venv module) to be installed: apt-get install python3 python3-venv`);
  mkdirSync(root, { recursive: true });
  say(tool.name, `installing ${wanted} from PyPI into ${venv} (first run only)`);
  if (!existsSync(join(binDir, 'python'))) {
    const created = spawnSync(python, ['-m', 'venv', venv], { encoding: 'utf8' });
    if (created.status !== 0) {
      throw new ToolUnavailable(`python3 -m venv ${venv} failed (exit ${created.status}): ${(created.stderr || created.stdout).trim()}\nOn Debian: apt-get install python3-venv`);
    }
  }
  await pipInstall(tool, join(binDir, 'pip'), wanted);
  writeFileSync(marker, `${wanted}\n`);
  return { binDir, version: tool.version };
}

async function pipInstall(tool: PythonTool, pip: string, requirement: string): Promise<void> {
  const progress = new Progress(tool.name);
  const tail: string[] = [];
  let collected = 0;
  const child = spawn(pip, ['install', '--disable-pip-version-check', '--progress-bar', 'off', requirement], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (line.startsWith('Collecting')) collected += 1;
        progress.update(`${collected} packages collected — ${line.trim().slice(0, 80)}`);
      }
    });
  }
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)));
  if (code !== 0) throw new ToolUnavailable(`pip install ${requirement} failed (exit ${code}):\n${tail.join('\n')}`);
  progress.done(`installed ${requirement}: ${collected} packages`);
}
