/**
 * The machine packages the suite and the dev stack use, and the Debian package that provides
 * each. `npm run tools` (and so `npm test`) and `npm run dev` call `ensureDebianPackages` first:
 * when everything is present it only looks (no apt call at all); when something is missing and
 * this process may install (root, or passwordless sudo, and apt-get exists) it runs `apt-get
 * update` once and installs each missing package with a progress line; otherwise it stops with
 * the exact command to run. The decision (`missingPackages`, `installPlan`) is separate from the
 * doing so it can be tested without apt.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ToolUnavailable, findOnPath } from './go-tool';
import { CLUSTER_DEBIAN_PACKAGES } from './cluster/debian-packages';
import { findPostgresBinaries } from './postgres';
import { Progress } from './progress';

/** Who needs a package: the test suite (`npm run tools`/`npm test`) or the dev stack (`npm run dev`). */
export type Purpose = 'test' | 'dev';

/** What this code looks at on the machine; the real one reads the file system and PATH. */
export interface Machine {
  env: NodeJS.ProcessEnv;
  onPath(command: string): boolean;
  isFile(path: string): boolean;
  /** PostgreSQL's initdb and pg_ctl, where `src/tools/postgres.ts` looks for them. */
  hasPostgres(): boolean;
  /** Whether `python3` can import every one of these modules. */
  pythonImports(modules: string[]): boolean;
}

export interface Requirement {
  /** What is needed, as a message names it: `certutil`, `/usr/bin/chromium`. */
  need: string;
  /** The Debian package that provides it. */
  package: string;
  purposes: readonly Purpose[];
  present(machine: Machine): boolean;
}

const chromiumPath = (env: NodeJS.ProcessEnv) => env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const REQUIREMENTS: readonly Requirement[] = [
  // The CEG simulator checks every credential with it; crypto tests use it as the judge.
  { need: 'openssl', package: 'openssl', purposes: ['test', 'dev'], present: (m) => m.onPath('openssl') },
  // NSS (Firefox/Thunderbird) import test: certutil and pk12util.
  { need: 'certutil', package: 'libnss3-tools', purposes: ['test'], present: (m) => m.onPath('certutil') && m.onPath('pk12util') },
  // Temporal's time-skipping test server runs on the JVM and is resolved with Maven.
  { need: 'java', package: 'openjdk-17-jdk-headless', purposes: ['test'], present: (m) => m.onPath('java') },
  { need: 'mvn', package: 'maven', purposes: ['test'], present: (m) => m.onPath('mvn') },
  // The escrow store's PostgreSQL backend is tested against a server the test starts.
  { need: 'PostgreSQL initdb', package: 'postgresql', purposes: ['test'], present: (m) => m.hasPostgres() },
  // The Temporal Web UI test drives headless Chromium (CHROMIUM_PATH points elsewhere).
  { need: 'chromium', package: 'chromium', purposes: ['test'], present: (m) => m.isFile(chromiumPath(m.env)) },
  // The fault suite installs schemathesis from PyPI into a venv.
  { need: 'python3 venv', package: 'python3-venv', purposes: ['test'], present: (m) => m.pythonImports(['venv', 'ensurepip']) },
  // The cluster suite's reverse proxy in front of the API replicas.
  ...CLUSTER_DEBIAN_PACKAGES,
];

export interface Missing {
  package: string;
  needs: string[];
}

/** The packages missing for `purpose`, one entry per package, in the order of `requirements`. */
export function missingPackages(purpose: Purpose, machine: Machine, requirements: readonly Requirement[] = REQUIREMENTS): Missing[] {
  const missing: Missing[] = [];
  for (const r of requirements) {
    if (!r.purposes.includes(purpose) || r.present(machine)) continue;
    const known = missing.find((m) => m.package === r.package);
    if (known) known.needs.push(r.need);
    else missing.push({ package: r.package, needs: [r.need] });
  }
  return missing;
}

/** What this process may do about packages. */
export interface Access {
  root: boolean;
  /** `sudo -n true` succeeds: sudo without a password. */
  passwordlessSudo: boolean;
  aptGet: boolean;
}

export interface Command {
  command: string;
  args: string[];
}

export type InstallPlan =
  | { kind: 'ready' }
  | { kind: 'install'; update: Command; installs: { package: string; command: Command }[] }
  | { kind: 'manual'; message: string };

const APT_ENV = 'DEBIAN_FRONTEND=noninteractive';
const RERUN: Record<Purpose, string> = { test: 'npm run tools', dev: 'npm run dev' };
const INSTALL_ARGS = ['install', '-y', '--no-install-recommends'];

/** From what is missing and what this process may do: nothing, an apt plan, or what to tell the user. */
export function installPlan(missing: Missing[], access: Access, rerun = 'npm run tools'): InstallPlan {
  if (missing.length === 0) return { kind: 'ready' };
  const packages = missing.map((m) => m.package);
  const what = missing.map((m) => `${m.needs.join(', ')} (${m.package})`).join(', ');
  if (!access.aptGet) {
    return {
      kind: 'manual',
      message:
        `missing: ${what}. This machine has no apt-get, so install them with its own package manager ` +
        `(on Debian/Ubuntu: apt-get install -y --no-install-recommends ${packages.join(' ')}); ` +
        `CHROMIUM_PATH and PG_BIN_DIR point at a Chromium or PostgreSQL installed elsewhere. Then run ${rerun} again.`,
    };
  }
  if (!access.root && !access.passwordlessSudo) {
    return {
      kind: 'manual',
      message:
        `missing: ${what}. Installing needs root; run\n\n` +
        `  sudo apt-get update && sudo ${APT_ENV} apt-get ${INSTALL_ARGS.join(' ')} ${packages.join(' ')}\n\n` +
        `then run ${rerun} again.`,
    };
  }
  // Under sudo, `env` sets the variable for apt-get whatever sudoers says about passing environment.
  const asRoot = (args: string[]): Command => (access.root ? { command: 'apt-get', args } : { command: 'sudo', args: ['-n', 'env', APT_ENV, 'apt-get', ...args] });
  return {
    kind: 'install',
    update: asRoot(['update']),
    installs: packages.map((p) => ({ package: p, command: asRoot([...INSTALL_ARGS, p]) })),
  };
}

/** Runs one command, handing each output line to `onLine`; resolves with the exit code. */
export type Runner = (command: Command, env: NodeJS.ProcessEnv, onLine: (line: string) => void) => Promise<number>;

export interface Host {
  machine: Machine;
  access(): Access;
  run: Runner;
  /** Where progress lines go (stderr). */
  output: NodeJS.WriteStream;
}

/**
 * Make sure the Debian packages `purpose` needs are installed, installing them when this process
 * may. Throws ToolUnavailable with what to do when it cannot.
 */
export async function ensureDebianPackages(purpose: Purpose, host: Host = realHost()): Promise<void> {
  const missing = missingPackages(purpose, host.machine);
  if (missing.length === 0) {
    say(host, `present: ${REQUIREMENTS.filter((r) => r.purposes.includes(purpose)).map((r) => r.need).join(', ')}`);
    return;
  }
  const plan = installPlan(missing, host.access(), RERUN[purpose]);
  if (plan.kind === 'ready') return;
  if (plan.kind === 'manual') throw new ToolUnavailable(plan.message);

  say(host, `installing ${missing.map((m) => `${m.package} (for ${m.needs.join(', ')})`).join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runStep(host, plan.update, env, 'apt-get update', (progress) => (line) => {
    if (/^(Get|Hit):\d+/.test(line)) progress.update(line.replace(/^(Get|Hit):\d+\s+/, '').split(/\s+/).slice(1, 3).join(' '));
  }, () => 'package lists updated');
  for (const { package: name, command } of plan.installs) {
    let setUp = 0;
    await runStep(host, command, env, name, (progress) => (line) => {
      const step = /^(Get:\d+ \S+ \S+ \S+ (\S+)|Unpacking (\S+)|Setting up (\S+))/.exec(line);
      if (!step) return;
      if (step[4]) setUp += 1;
      progress.update(step[2] ? `downloading ${step[2]}` : step[3] ? `unpacking ${step[3]}` : `setting up ${step[4]}`);
    }, () => `installed (${setUp} package${setUp === 1 ? '' : 's'} set up)`);
  }

  const still = missingPackages(purpose, host.machine);
  if (still.length > 0) {
    throw new ToolUnavailable(`installed, yet still missing: ${still.map((m) => `${m.needs.join(', ')} (${m.package})`).join(', ')}`);
  }
}

async function runStep(
  host: Host,
  command: Command,
  env: NodeJS.ProcessEnv,
  label: string,
  watch: (progress: Progress) => (line: string) => void,
  summary: () => string = () => 'done',
): Promise<void> {
  const progress = new Progress(label, host.output);
  const onLine = watch(progress);
  const tail: string[] = [];
  const code = await host.run(command, env, (line) => {
    if (!line.trim()) return;
    tail.push(line);
    if (tail.length > 20) tail.shift();
    onLine(line);
  });
  if (code !== 0) {
    throw new ToolUnavailable(`${[command.command, ...command.args].join(' ')} failed (exit ${code}):\n${tail.join('\n')}`);
  }
  progress.done(summary());
}

function say(host: Host, message: string): void {
  host.output.write(`[packages] ${message}\n`);
}

function realHost(): Host {
  const machine: Machine = {
    env: process.env,
    onPath: (command) => findOnPath(command) !== undefined,
    isFile: (path) => existsSync(path),
    hasPostgres: () => {
      try {
        findPostgresBinaries();
        return true;
      } catch {
        return false;
      }
    },
    pythonImports: (modules) => spawnSync('python3', ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore', timeout: 10_000 }).status === 0,
  };
  return {
    machine,
    output: process.stderr,
    access: () => ({
      root: process.getuid?.() === 0,
      passwordlessSudo: findOnPath('sudo') !== undefined && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0,
      aptGet: findOnPath('apt-get') !== undefined,
    }),
    run: (command, env, onLine) =>
      new Promise((resolve) => {
        const child = spawn(command.command, command.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
        child.on('error', (err) => {
          onLine(err.message);
          resolve(127);
        });
        child.on('close', (code) => resolve(code ?? 1));
      }),
  };
}
