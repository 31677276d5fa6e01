/**
 * The crypto floor: how many enrollments per second this machine can do if it did nothing but
 * the unavoidable cryptography — for each credential, an RSA (or EC) key pair and a PKCS#12 —
 * with both cores busy (a worker_threads pool, one thread per core, each keeping a few
 * enrollments in flight; key generation runs on the libuv pool, the PKCS#12 KDF on the thread).
 * No CSR, no CA, no sealing, no Temporal: anything we add on top is overhead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { repositoryUrls } from '../src/activities/ca/embedded/repository';
import { EmbeddedCa } from '../src/activities/ca/embedded-ca';
import { buildSmimeCsr } from '../src/activities/crypto/csr';
import { generateKeyPair, type KeyOptions } from '../src/activities/crypto/keys';
import type { Pkcs12Profile } from '../src/domain/credentials';
import type { CryptoFloorThreadInput } from './crypto-floor-thread';

export type CryptoFloorKind = 'rsa' | 'ec' | 'pooled-keys';

export interface CryptoFloorOptions {
  kind: CryptoFloorKind;
  /** How long to run (the rate is completions ÷ time to the last completion). */
  seconds: number;
  /** Credentials per enrollment (signing + encryption: 2). */
  kinds?: number;
  profile?: Pkcs12Profile;
  threads?: number;
  inFlightPerThread?: number;
}

export interface CryptoFloorResult {
  kind: CryptoFloorKind;
  enrollments: number;
  seconds: number;
  enrollmentsPerSecond: number;
  threads: number;
  inFlightPerThread: number;
  /** CPU the bench process used ÷ wall time: 2.0 means both cores were busy. */
  coresBusy: number;
  /** CPU seconds (all threads) per enrollment. */
  cpuSecondsPerEnrollment: number;
  /**
   * cores ÷ CPU seconds per enrollment: the rate with every core to itself. Unlike the wall-clock
   * rate it hardly changes when other work shares the machine.
   */
  cpuBoundRate: number;
}

const KEY_OPTIONS: Record<'rsa' | 'ec', KeyOptions> = {
  rsa: { algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' },
  ec: { algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' },
};

/** A real certificate from the embedded CA to pack (the floor's cost does not depend on whose key it certifies). */
async function sampleCertificate(): Promise<{ certificatePem: string; chainPem: string[]; keyPkcs8: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-crypto-ca-'));
  try {
    // Nobody fetches this CA's CRL: a documentation host (RFC 2606) stands in for its repository.
    const ca = await EmbeddedCa.open({ dir, repository: repositoryUrls('http://pki.example.com/embedded-ca') });
    const key = await generateKeyPair(KEY_OPTIONS.rsa);
    const email = 'floor@bench.example.test';
    const csrPem = await buildSmimeCsr(key, { email, displayName: 'Floor' }, 'signing');
    const answer = await ca.submit({ idempotencyKey: 'crypto-floor', kind: 'signing', csrPem, email, displayName: 'Floor', validityDays: 365 });
    if (answer.status !== 'issued') throw new Error('the embedded CA did not issue at once');
    return { certificatePem: answer.certificatePem, chainPem: answer.chainPem, keyPkcs8: key.privateKeyPkcs8 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureCryptoFloor(options: CryptoFloorOptions): Promise<CryptoFloorResult> {
  const threads = options.threads ?? availableParallelism();
  const inFlightPerThread = options.inFlightPerThread ?? 2;
  const sample = await sampleCertificate();
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  const input: CryptoFloorThreadInput = {
    keys: options.kind === 'pooled-keys' ? null : KEY_OPTIONS[options.kind],
    kinds: options.kinds ?? 2,
    profile: options.profile ?? 'legacy',
    certificatePem: sample.certificatePem,
    chainPem: sample.chainPem,
    pooledKeyPkcs8: new Uint8Array(sample.keyPkcs8),
    inFlight: inFlightPerThread,
    until: started + options.seconds * 1000,
  };
  let completed = 0;
  let last = started;
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<void>((resolve, reject) => {
          const thread = new Worker(join(__dirname, 'crypto-floor-thread.ts'), { workerData: input, execArgv: ['--require', 'tsx/cjs'] });
          thread.on('message', (message: { done?: number; finished?: boolean; error?: string }) => {
            if (message.done) {
              completed += 1;
              last = Math.max(last, message.done);
            } else if (message.error) reject(new Error(`crypto floor thread: ${message.error}`));
            else if (message.finished) void thread.terminate().then(() => resolve());
          });
          thread.on('error', reject);
        }),
    ),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (last - started) / 1000;
  const cpuSecondsPerEnrollment = (cpu.user + cpu.system) / 1e6 / Math.max(1, completed);
  return {
    cpuSecondsPerEnrollment,
    cpuBoundRate: availableParallelism() / cpuSecondsPerEnrollment,
    kind: options.kind,
    enrollments: completed,
    seconds,
    enrollmentsPerSecond: completed / seconds,
    threads,
    inFlightPerThread,
    coresBusy: (cpu.user + cpu.system) / 1e6 / ((Date.now() - started) / 1000),
  };
}
