/** The CEG gateway simulator: see ./server.ts for what it does and docs/ceg-contract.md for the contract. */
export { startCegSimulator, type CegSimulator, type CegSimulatorOptions } from './server';
export type { SimDeletionRecord, SimUploadRecord } from './store';
export type { FaultPlan } from './faults';
