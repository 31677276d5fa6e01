/**
 * One thread of the crypto floor (see crypto-floor.ts): runs enrollments' crypto — per credential
 * a key pair (unless the keys come from a warm pool) and a PKCS#12 — as fast as it can, with a few
 * enrollments in flight so key generation on the libuv pool and the PKCS#12 KDF on this thread overlap.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generateKeyPair, type KeyOptions } from '../src/activities/crypto/keys';
import { randomPassword } from '../src/activities/crypto/password';
import { buildPkcs12 } from '../src/activities/crypto/pkcs12';
import type { Pkcs12Profile } from '../src/domain/credentials';

export interface CryptoFloorThreadInput {
  /** null: keys come from a warm pool, only the PKCS#12 is made. */
  keys: KeyOptions | null;
  kinds: number;
  profile: Pkcs12Profile;
  certificatePem: string;
  chainPem: string[];
  /** A key to pack when keys are pooled (generation is not part of that floor). */
  pooledKeyPkcs8: Uint8Array;
  inFlight: number;
  /** Stop starting new enrollments at this epoch millisecond. */
  until: number;
}

async function enrollment(input: CryptoFloorThreadInput): Promise<void> {
  await Promise.all(
    Array.from({ length: input.kinds }, async () => {
      const privateKeyPkcs8 = input.keys ? (await generateKeyPair(input.keys)).privateKeyPkcs8 : Buffer.from(input.pooledKeyPkcs8);
      await buildPkcs12({ privateKeyPkcs8, certificatePem: input.certificatePem, chainPem: input.chainPem, password: randomPassword(), profile: input.profile, friendlyName: 'S/MIME floor' });
    }),
  );
}

async function run(input: CryptoFloorThreadInput): Promise<void> {
  const lanes = Array.from({ length: input.inFlight }, async () => {
    while (Date.now() < input.until) {
      await enrollment(input);
      parentPort!.postMessage({ done: Date.now() });
    }
  });
  await Promise.all(lanes);
  parentPort!.postMessage({ finished: true });
}

run(workerData as CryptoFloorThreadInput).catch((err: unknown) => {
  parentPort!.postMessage({ error: (err as Error).message });
});
