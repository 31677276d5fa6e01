/**
 * The credential gateways, by GATEWAY_TYPE (settings checked by src/config/requirements.ts):
 *
 *   ceg         Workspace ONE Credential Escrow Gateway over mutual TLS (the contract in
 *               ./wire-contract.ts); CEG_URL, CEG_CLIENT_CERT, CEG_CLIENT_KEY, CEG_CA_FILE;
 *               its twin is src/peers/ceg-sim
 *   uem-direct  UEM's REST upload (UEM then holds the keys); the UEM_API_* settings;
 *               its twin is src/peers/uem-sim
 */
import { defineRegistry } from '../adapters';
import type { CredentialGateway } from './credential-gateway';
import { createCegGateway } from './ceg-gateway';
import { createUemDirectGateway } from './uem-direct-gateway';

export const gatewayRegistry = defineRegistry<CredentialGateway>({
  system: 'credential gateway',
  setting: 'gatewayType',
  typeOf: (config) => config.gatewayType,
  adapters: {
    ceg: ({ config, logger }) => createCegGateway(config, logger),
    'uem-direct': ({ config, logger }) => createUemDirectGateway(config, logger),
  },
});
