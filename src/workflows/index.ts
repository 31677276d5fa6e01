// The workflow bundle's entry point: every workflow type the worker registers.
export { provisionSmime } from './provision-smime';
export { retireSmime } from './retire-smime';
export { backfillSmime } from './backfill-smime';
export { reconcileSmime } from './reconcile-smime';
export { renewSmime } from './renew-smime';
