/**
 * The bootstrap's Debian package step, decided and run against a fake machine and a recording
 * runner: what is missing → which packages → which commands (or which message), with no apt call.
 */
import assert from 'node:assert/strict';
import {
  ensureDebianPackages,
  installPlan,
  missingPackages,
  type Access,
  type Command,
  type Host,
  type Machine,
} from '../../../src/tools/debian-packages';
import { ToolUnavailable } from '../../../src/tools/go-tool';

const EVERYTHING = ['openssl', 'certutil', 'pk12util', 'java', 'mvn', 'python3', 'haproxy'];

/** A machine with these commands on PATH, these files, PostgreSQL or not, python3 venv or not. */
function machine(has: { commands?: string[]; files?: string[]; postgres?: boolean; venv?: boolean; env?: NodeJS.ProcessEnv } = {}): Machine & { install(pkg: string): void } {
  const commands = new Set(has.commands ?? EVERYTHING);
  const files = new Set(has.files ?? ['/usr/bin/chromium']);
  let postgres = has.postgres ?? true;
  let venv = has.venv ?? true;
  return {
    env: has.env ?? {},
    onPath: (c) => commands.has(c),
    isFile: (f) => files.has(f),
    hasPostgres: () => postgres,
    pythonImports: (modules) => venv && modules.every((m) => ['venv', 'ensurepip'].includes(m)),
    install(pkg) {
      if (pkg === 'libnss3-tools') ['certutil', 'pk12util'].forEach((c) => commands.add(c));
      if (pkg === 'chromium') files.add('/usr/bin/chromium');
      if (pkg === 'postgresql') postgres = true;
      if (pkg === 'python3-venv') venv = true;
      if (pkg === 'openssl') commands.add('openssl');
      if (pkg === 'haproxy') commands.add('haproxy');
    },
  };
}

const ROOT: Access = { root: true, passwordlessSudo: false, aptGet: true };

/** A host whose runner records every command and, for apt-get install, "installs" into the fake machine. */
function host(m: ReturnType<typeof machine>, access: Access, exitCodes: Record<string, number> = {}): Host & { ran: { command: Command; env: NodeJS.ProcessEnv }[]; printed: () => string[] } {
  const ran: { command: Command; env: NodeJS.ProcessEnv }[] = [];
  let text = '';
  return {
    ran,
    printed: () => text.split('\n').filter((l) => l.length > 0),
    output: { isTTY: false, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream,
    machine: m,
    access: () => access,
    run: async (command, env, onLine) => {
      ran.push({ command, env });
      const pkg = command.args.at(-1)!;
      const code = exitCodes[pkg] ?? 0;
      if (command.args.includes('install') && code === 0) {
        onLine(`Get:1 http://mirror.invalid/debian bookworm/main amd64 ${pkg} amd64 1.0 [1 kB]`);
        onLine(`Unpacking ${pkg} (1.0) ...`);
        onLine(`Setting up ${pkg} (1.0) ...`);
        m.install(pkg);
      }
      if (code !== 0) onLine(`E: Unable to locate package ${pkg}`);
      return code;
    },
  };
}

describe('Debian packages the suite needs', () => {
  it('finds nothing missing on a complete machine', () => {
    assert.deepEqual(missingPackages('test', machine()), []);
  });

  it('maps each missing need to its package, in a stable order', () => {
    const m = machine({ commands: ['openssl', 'java'], files: [], postgres: false, venv: false });
    assert.deepEqual(missingPackages('test', m), [
      { package: 'libnss3-tools', needs: ['certutil'] },
      { package: 'maven', needs: ['mvn'] },
      { package: 'postgresql', needs: ['PostgreSQL initdb'] },
      { package: 'chromium', needs: ['chromium'] },
      { package: 'python3-venv', needs: ['python3 venv'] },
      { package: 'haproxy', needs: ['haproxy'] },
    ]);
  });

  it('needs NSS tools when only one of certutil and pk12util is there', () => {
    assert.deepEqual(missingPackages('test', machine({ commands: ['openssl', 'certutil', 'java', 'mvn', 'haproxy'] })), [{ package: 'libnss3-tools', needs: ['certutil'] }]);
  });

  it('looks for Chromium at CHROMIUM_PATH when set', () => {
    assert.deepEqual(missingPackages('test', machine({ files: ['/opt/chrome/chrome'], env: { CHROMIUM_PATH: '/opt/chrome/chrome' } })), []);
    assert.deepEqual(missingPackages('test', machine({ files: ['/usr/bin/chromium'], env: { CHROMIUM_PATH: '/opt/chrome/chrome' } })), [{ package: 'chromium', needs: ['chromium'] }]);
  });

  it('the dev stack needs only OpenSSL', () => {
    const bare = machine({ commands: [], files: [], postgres: false, venv: false });
    assert.deepEqual(missingPackages('dev', bare), [{ package: 'openssl', needs: ['openssl'] }]);
  });
});

describe('what to do about missing packages', () => {
  const missing = [
    { package: 'libnss3-tools', needs: ['certutil'] },
    { package: 'chromium', needs: ['chromium'] },
  ];

  it('nothing when nothing is missing', () => {
    assert.deepEqual(installPlan([], { root: false, passwordlessSudo: false, aptGet: false }), { kind: 'ready' });
  });

  it('as root: apt-get update, then one non-interactive install per package without recommends', () => {
    assert.deepEqual(installPlan(missing, ROOT), {
      kind: 'install',
      update: { command: 'apt-get', args: ['update'] },
      installs: [
        { package: 'libnss3-tools', command: { command: 'apt-get', args: ['install', '-y', '--no-install-recommends', 'libnss3-tools'] } },
        { package: 'chromium', command: { command: 'apt-get', args: ['install', '-y', '--no-install-recommends', 'chromium'] } },
      ],
    });
  });

  it('with passwordless sudo: the same through sudo -n, DEBIAN_FRONTEND set by env under sudo', () => {
    const plan = installPlan(missing, { root: false, passwordlessSudo: true, aptGet: true });
    assert.ok(plan.kind === 'install');
    assert.deepEqual(plan.update, { command: 'sudo', args: ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'update'] });
    assert.deepEqual(plan.installs[1]!.command, { command: 'sudo', args: ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '--no-install-recommends', 'chromium'] });
  });

  it('without root or passwordless sudo: the exact command to run', () => {
    const plan = installPlan(missing, { root: false, passwordlessSudo: false, aptGet: true });
    assert.ok(plan.kind === 'manual');
    assert.match(plan.message, /certutil \(libnss3-tools\), chromium \(chromium\)/);
    assert.ok(plan.message.includes('sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libnss3-tools chromium'), plan.message);
    assert.match(plan.message, /then run npm run tools again/);
  });

  it('without apt-get: the packages by name and the settings that point elsewhere', () => {
    const plan = installPlan(missing, { root: true, passwordlessSudo: false, aptGet: false }, 'npm run dev');
    assert.ok(plan.kind === 'manual');
    assert.match(plan.message, /no apt-get/);
    assert.match(plan.message, /libnss3-tools chromium/);
    assert.match(plan.message, /CHROMIUM_PATH/);
    assert.match(plan.message, /run npm run dev again/);
  });
});

describe('ensureDebianPackages', () => {
  it('calls nothing when everything is present, and says so in one line', async () => {
    const h = host(machine(), ROOT);
    await ensureDebianPackages('test', h);
    assert.deepEqual(h.ran, []);
    assert.deepEqual(h.printed(), ['[packages] present: openssl, certutil, java, mvn, PostgreSQL initdb, chromium, python3 venv, haproxy']);
  });

  it('updates once, installs each missing package non-interactively, and checks again', async () => {
    const h = host(machine({ files: [], postgres: false }), ROOT);
    await ensureDebianPackages('test', h);
    assert.deepEqual(
      h.ran.map((r) => r.command.args.join(' ')),
      ['update', 'install -y --no-install-recommends postgresql', 'install -y --no-install-recommends chromium'],
    );
    assert.ok(h.ran.every((r) => r.env.DEBIAN_FRONTEND === 'noninteractive'));
    assert.deepEqual(missingPackages('test', h.machine), []);
    const printed = h.printed();
    assert.equal(printed[0], '[packages] installing postgresql (for PostgreSQL initdb), chromium (for chromium)');
    for (const pkg of ['postgresql', 'chromium']) assert.ok(printed.some((l) => l.startsWith(`[${pkg}] installed (1 package set up)`)), printed.join('\n'));
  });

  it('a second run after installing makes no apt call', async () => {
    const m = machine({ files: [] });
    await ensureDebianPackages('test', host(m, ROOT));
    const again = host(m, ROOT);
    await ensureDebianPackages('test', again);
    assert.deepEqual(again.ran, []);
  });

  it('stops with the exact command when it may not install, having run nothing', async () => {
    const h = host(machine({ commands: ['openssl', 'java', 'mvn', 'haproxy'] }), { root: false, passwordlessSudo: false, aptGet: true });
    await assert.rejects(ensureDebianPackages('test', h), (err: unknown) => err instanceof ToolUnavailable && /sudo apt-get update && .* libnss3-tools$/m.test(err.message));
    assert.deepEqual(h.ran, []);
  });

  it('a failing install stops with the command and apt\'s last lines', async () => {
    const h = host(machine({ files: [] }), ROOT, { chromium: 100 });
    await assert.rejects(
      ensureDebianPackages('test', h),
      (err: unknown) => err instanceof ToolUnavailable && err.message.includes('apt-get install -y --no-install-recommends chromium failed (exit 100)') && err.message.includes('Unable to locate package chromium'),
    );
  });

  it('a package that installs but does not provide what was missing is reported', async () => {
    const m = machine({ files: [] });
    const h = host(m, ROOT);
    m.install = () => undefined; // apt says yes, the file never appears
    await assert.rejects(ensureDebianPackages('test', h), (err: unknown) => err instanceof ToolUnavailable && /still missing: chromium \(chromium\)/.test(err.message));
  });
});
