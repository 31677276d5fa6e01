/** The order-and-poll CA simulator: see ./server.ts for what it does, and the wire contract in src/activities/ca/order-poll/contract.ts. */
export { startOrderCaSimulator, type OrderCaSimulator, type OrderCaSimulatorOptions } from './server';
export type { OrderRecord } from './store';
