/**
 * Shared set-up for the API tests (unit tests with Temporal unreachable, e2e tests with the dev
 * server): a config with test credentials, the app on a loopback port with its log lines
 * captured, a worker running the real workflow with fake activities on a unique task queue.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createApp } from '../../src/api/app';
import type { CredentialReader } from '../../src/api/credential-reader';
import { loadConfig, type Config, type SettingName } from '../../src/config';
import { createLogger, type Logger } from '../../src/logging';
import type { FakeActivities } from './fake-activities';
import { workflowBundle } from './temporal';

export const WEBHOOK_USER = 'uem-console';
export const WEBHOOK_PASSWORD = 'first-Secret:with-colon';
export const WEBHOOK_USER_NEXT = 'uem-console';
export const WEBHOOK_PASSWORD_NEXT = 'rotated-Secret-2';
export const VIEWER_TOKEN = 'viewer-token-abcdefghijklmnop';
export const OPERATOR_TOKEN = 'operator-token-abcdefghijklmnop';

export function basic(user = WEBHOOK_USER, password = WEBHOOK_PASSWORD): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

export interface TestConfig {
  config: Config;
  cleanUp(): void;
}

export function apiConfig(overrides: Partial<Record<SettingName, string>> = {}): TestConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'api-test-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      logLevel: 'silent',
      webhookUsers: `${WEBHOOK_USER}:${WEBHOOK_PASSWORD},${WEBHOOK_USER_NEXT}:${WEBHOOK_PASSWORD_NEXT}`,
      apiTokens: `${VIEWER_TOKEN}:viewer,${OPERATOR_TOKEN}:operator`,
      taskQueue: `api-test-${randomUUID()}`,
      ...overrides,
    },
  });
  return { config, cleanUp: () => rmSync(dataDir, { recursive: true, force: true }) };
}

/** A pino logger whose lines are kept for assertions (e.g. that no Authorization header leaks). */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level: 'debug' }, stream);
  return { logger, lines };
}

export interface RunningApi {
  url: string;
  lines: string[];
  registry: Registry;
  close(): Promise<void>;
}

export async function startApi(options: { client: Client; config: Config; temporalTimeoutMs?: number; credentials?: CredentialReader }): Promise<RunningApi> {
  const { logger, lines } = capturingLogger();
  const registry = new Registry();
  const app = createApp({ client: options.client, config: options.config, logger, registry, temporalTimeoutMs: options.temporalTimeoutMs, credentials: options.credentials });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lines,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on (taken, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A client for a Temporal that is not there: every call fails fast (UNAVAILABLE). */
export function clientFor(address: string): { client: Client; connection: Connection } {
  const connection = Connection.lazy({ address, interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 2 }))] });
  return { client: new Client({ connection }), connection };
}

/** A TCP forwarder to Temporal that can be switched on later: "Temporal comes back". */
export async function startForwarder(port: number, target: string): Promise<{ close(): Promise<void> }> {
  const [host, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const { connect } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server: NetServer = createServer((client) => {
    const upstream = connect(targetPort, host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A worker running the real provisionSmime workflow with fake activities, until stopped. */
export async function startWorker(env: TestWorkflowEnvironment, taskQueue: string, activities: FakeActivities): Promise<{ stop(): Promise<void> }> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    maxConcurrentWorkflowTaskExecutions: 40,
    maxConcurrentActivityTaskExecutions: 100,
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpAnswer> {
  const response = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function postEvent(apiUrl: string, body: string | Buffer, contentType = 'application/json', authorization = basic()): Promise<HttpAnswer> {
  return request(`${apiUrl}/webhooks/uem`, { method: 'POST', headers: { 'Content-Type': contentType, Authorization: authorization }, body });
}
