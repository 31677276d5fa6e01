import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, renameSync, rmSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { Progress, say } from './progress';
import { TOOLS_BIN } from './paths';

/** A command-line tool the project builds from the Go module proxy when it is not already at hand. */
export interface GoTool {
  /** Executable name, e.g. `temporal`. */
  binary: string;
  /** Environment variable that points at an existing executable, e.g. `TEMPORAL_CLI`. */
  envVar: string;
  /** `go install` target, e.g. `github.com/temporalio/cli/cmd/temporal@v1.5.1`. */
  installTarget: string;
  /** Whether an executable on PATH may be used (its version may differ from ours). */
  acceptFromPath: boolean;
  /** Defaults for `go install`'s environment (the caller's environment wins), e.g. CGO_ENABLED=0. */
  buildEnv?: Record<string, string>;
  /**
   * The name `go install` gives the executable (the package's last path element) when it differs
   * from `binary`: Temporal's server and UI server both build as `server`, so each is installed
   * into a folder of its own and moved to its own name in the cache.
   */
  goBinary?: string;
}

export class ToolUnavailable extends Error {
  override readonly name = 'ToolUnavailable';
}

/**
 * Find a tool, in this order: the environment variable, PATH, the project's tool cache; else
 * build it into the cache with `go install`. Idempotent: a second call finds the cached build.
 */
export async function ensureGoTool(tool: GoTool): Promise<string> {
  const label = tool.binary;
  const fromEnv = process.env[tool.envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new ToolUnavailable(`${tool.envVar}=${fromEnv} is not an executable file`);
    say(label, `using ${fromEnv} (from ${tool.envVar})`);
    return fromEnv;
  }
  if (tool.acceptFromPath) {
    const onPath = findOnPath(tool.binary);
    if (onPath) {
      say(label, `using ${onPath} (from PATH)`);
      return onPath;
    }
  }
  const cached = join(TOOLS_BIN, tool.binary);
  if (isExecutable(cached)) {
    say(label, `using ${cached} (tool cache)`);
    return cached;
  }
  await goInstall(tool, cached);
  return cached;
}

async function goInstall(tool: GoTool, target: string): Promise<void> {
  const go = findOnPath('go');
  if (!go) {
    throw new ToolUnavailable(
      `${tool.binary} is not installed and Go is missing to build it. Install Go 1.22 or newer (https://go.dev/doc/install, or "apt-get install golang"), ` +
        `or set ${tool.envVar} to an existing ${tool.binary} executable.`,
    );
  }
  mkdirSync(TOOLS_BIN, { recursive: true });
  // A tool whose go-install name differs is built in a folder of its own, then moved into place.
  const gobin = tool.goBinary && tool.goBinary !== tool.binary ? join(TOOLS_BIN, `.build-${tool.binary}`) : TOOLS_BIN;
  const built = join(gobin, tool.goBinary ?? tool.binary);
  say(tool.binary, `building ${tool.installTarget} into ${TOOLS_BIN} (first run only; takes a few minutes)`);
  const progress = new Progress(tool.binary);
  let packages = 0;
  let downloads = 0;
  let last = '';
  const tail: string[] = [];
  const child = spawn(go, ['install', '-v', tool.installTarget], {
    env: { ...tool.buildEnv, ...process.env, GOBIN: gobin, GOFLAGS: process.env.GOFLAGS ?? '-trimpath' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > 30) tail.shift();
    if (line.startsWith('go: downloading')) downloads += 1;
    else if (!line.startsWith('go:')) packages += 1;
    last = line.replace(/^go: downloading /, '');
    progress.update(`${downloads} modules downloaded, ${packages} packages compiled — ${last}`);
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      lines.forEach(onLine);
    });
  }
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)));
  if (code !== 0 || !isExecutable(built)) {
    throw new ToolUnavailable(`go install ${tool.installTarget} failed (exit ${code}):\n${tail.join('\n')}`);
  }
  if (built !== target) {
    renameSync(built, target);
    rmSync(gobin, { recursive: true, force: true });
  }
  progress.done(`built ${target}: ${packages} packages`);
}

export function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = resolve(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first line a tool prints for `--version`, for logs. */
export function toolVersion(executable: string, args = ['--version']): string {
  const result = spawnSync(executable, args, { encoding: 'utf8', timeout: 10_000 });
  return (result.stdout || result.stderr || '').split('\n')[0]?.trim() ?? 'unknown';
}
