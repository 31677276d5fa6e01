/**
 * The CA behind the order-and-poll simulator: an embedded CA of its own in
 * `<DATA_DIR>/order-ca-sim/ca`, published by the dev stack's CA repository under `order-ca-sim`
 * (so its certificates name a CRL and issuer that answer). The simulator and the repository
 * server both open it; both build the same URLs here.
 */
import { join } from 'node:path';
import { EmbeddedCa } from '../../activities/ca/embedded-ca';
import { loopbackRepositoryBase, repositoryUrls } from '../../activities/ca/embedded/repository';
import type { Config } from '../../config';
import type { Logger } from '../../logging';

export const ORDER_CA_SIM_REPOSITORY_NAME = 'order-ca-sim';

export function orderCaSimIssuerDir(config: Pick<Config, 'dataDirAbsolute'>): string {
  return join(config.dataDirAbsolute, 'order-ca-sim', 'ca');
}

export function openOrderCaSimIssuer(config: Pick<Config, 'dataDirAbsolute' | 'caRepositoryPort'>, logger: Logger): Promise<EmbeddedCa> {
  return EmbeddedCa.open({
    dir: orderCaSimIssuerDir(config),
    repository: repositoryUrls(loopbackRepositoryBase(config.caRepositoryPort, ORDER_CA_SIM_REPOSITORY_NAME)),
    pendingForMs: 0,
    logger,
  });
}
