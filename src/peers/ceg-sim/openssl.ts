/**
 * Run the OpenSSL command-line tool: the simulator checks every credential with it, an
 * implementation independent of the one that built the PKCS#12.
 *
 * Secrets never go on the command line (argv is visible to every user of the machine): data goes
 * through stdin, and a password through an inherited pipe on fd 3 (`-passin fd:3`).
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

export interface OpensslRun {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** The binary; OPENSSL_BIN lets a machine point at another build. */
const OPENSSL = process.env.OPENSSL_BIN || 'openssl';
const TIMEOUT_MS = 15_000;

export function runOpenssl(args: string[], input: { stdin?: Buffer | string; fd3?: string } = {}): Promise<OpensslRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(OPENSSL, args, {
      stdio: ['pipe', 'pipe', 'pipe', input.fd3 !== undefined ? 'pipe' : 'ignore'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${OPENSSL}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) return reject(new Error(`${OPENSSL} ${args[0]} was stopped by ${signal}`));
      resolve({ code: code ?? 1, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    feed(child.stdin!, input.stdin);
    if (input.fd3 !== undefined) feed(child.stdio[3] as Writable, `${input.fd3}\n`);
  });
}

/** Write and close; a child that exits before reading everything must not crash us (EPIPE). */
function feed(stream: Writable, data: Buffer | string | undefined): void {
  stream.on('error', () => undefined);
  stream.end(data ?? '');
}
