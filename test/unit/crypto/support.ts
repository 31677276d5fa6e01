/**
 * Test support for the crypto and embedded-CA tests: the real OpenSSL CLI, temp folders that are
 * removed afterwards, and an assertion for typed provider failures.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';

export const OPENSSL = process.env.OPENSSL_BIN ?? '/usr/bin/openssl';

export interface OpensslResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run `openssl <args>` in `cwd`; never throws on a non-zero exit (tests assert on `code`). */
export function openssl(args: string[], cwd: string, input?: string | Buffer): Promise<OpensslResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(OPENSSL, args, { cwd, encoding: 'buffer', maxBuffer: 16 * 1024 * 1024, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), code: error ? (error.code as number) : 0 });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Like `openssl`, but fails the test (with OpenSSL's own words) on a non-zero exit. */
export async function opensslOk(args: string[], cwd: string, input?: string | Buffer): Promise<string> {
  const result = await openssl(args, cwd, input);
  assert.equal(result.code, 0, `openssl ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** A fresh folder under the OS temp dir; call `remove()` in an after hook. */
export function tempDir(prefix: string): { path: string; file(name: string, content: string | Buffer, mode?: number): string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `smime-${prefix}-`));
  return {
    path,
    file(name, content, mode = 0o600) {
      const file = join(path, name);
      writeFileSync(file, content, { mode });
      return file;
    },
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Assert that `action` fails with a provider failure of `type` (and optionally a message match). */
export async function assertFailure(action: Promise<unknown> | (() => unknown), type: string, message?: RegExp): Promise<ApplicationFailure> {
  let failure: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    failure = error;
  }
  assert.ok(failure instanceof ApplicationFailure, `expected an ApplicationFailure of type ${type}, got ${String(failure)}`);
  assert.equal(failure.type, type, `failure type (message: ${failure.message})`);
  if (message) assert.match(failure.message, message);
  return failure;
}
