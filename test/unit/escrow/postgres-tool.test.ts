import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPostgresBinaries, PostgresUnavailable } from '../../../src/tools/postgres';

describe('PostgreSQL tool: finding the server programs', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pg-find-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  function fakeBin(path: string): void {
    mkdirSync(path, { recursive: true });
    for (const name of ['initdb', 'pg_ctl']) {
      writeFileSync(join(path, name), '#!/bin/sh\n');
      chmodSync(join(path, name), 0o755);
    }
  }

  it('says what to install when nothing is found', () => {
    assert.throws(
      () => findPostgresBinaries({ env: { PATH: join(dir, 'nowhere') }, debianRoot: join(dir, 'no-debian') }),
      (err: unknown) => err instanceof PostgresUnavailable && /apt-get install -y postgresql/.test(err.message) && /PG_BIN_DIR/.test(err.message),
    );
  });

  it('prefers the newest Debian version folder', () => {
    const root = join(dir, 'debian');
    fakeBin(join(root, '13', 'bin'));
    fakeBin(join(root, '15', 'bin'));
    assert.equal(findPostgresBinaries({ env: {}, debianRoot: root }).binDir, join(root, '15', 'bin'));
  });

  it('takes PG_BIN_DIR first', () => {
    fakeBin(join(dir, 'custom'));
    const found = findPostgresBinaries({ env: { PG_BIN_DIR: join(dir, 'custom') }, debianRoot: join(dir, 'debian') });
    assert.equal(found.initdb, join(dir, 'custom', 'initdb'));
  });

  it('ignores a folder with only one of the two programs', () => {
    const half = join(dir, 'half');
    mkdirSync(half);
    writeFileSync(join(half, 'initdb'), '#!/bin/sh\n', { mode: 0o755 });
    assert.throws(() => findPostgresBinaries({ env: { PATH: half }, debianRoot: join(dir, 'no-debian') }), PostgresUnavailable);
  });
});
