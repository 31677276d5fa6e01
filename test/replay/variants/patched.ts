// The same change behind patched(): new runs take the new path, old histories replay unchanged.
import { patched, sleep } from '@temporalio/workflow';
import type { ProvisionInput } from '../../../src/workflows/definitions';
import { provisionSmime as current } from '../../../src/workflows/provision-smime';

export async function provisionSmime(input: ProvisionInput) {
  if (patched('pause-before-first-step')) await sleep('1 second');
  return current(input);
}
