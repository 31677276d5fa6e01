/** The dev stack's CA repository: see ./server.ts. */
export { startCaRepository, type CaRepository, type CaRepositoryOptions, type PublishableCa } from './server';
