/**
 * The Temporal client of the API process (and of the CLI tools): the provider's data converter,
 * a lazy connection so the process starts and answers /healthz while Temporal is down, and gRPC
 * retries short enough that a request fails into a 503 (UEM retries) instead of hanging.
 */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { Config } from '../config';
import { temporalConnectionOptions } from '../temporal/connection';
import { codecKeyring, codecPolicy, providerDataConverter } from '../temporal/data-converter';

export interface ApiTemporalClient {
  client: Client;
  connection: Connection;
}

export function createTemporalClient(config: Config): ApiTemporalClient {
  const connection = Connection.lazy({
    ...temporalConnectionOptions(config),
    // gRPC reconnects by itself; these retries only smooth over a blip inside one request.
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }))],
  });
  const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter: providerDataConverter(codecKeyring(config), codecPolicy(config)) });
  return { client, connection };
}
