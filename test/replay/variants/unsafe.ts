// A change that is NOT replay-safe: a new timer before the first step. Old histories start with
// a patch marker (lean lifecycle) or a search-attribute upsert (first shape), so replaying them
// with this code must fail the corpus.
import { sleep } from '@temporalio/workflow';
import type { ProvisionInput } from '../../../src/workflows/definitions';
import { provisionSmime as current } from '../../../src/workflows/provision-smime';

export async function provisionSmime(input: ProvisionInput) {
  await sleep('1 second');
  return current(input);
}
