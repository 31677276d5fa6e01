/**
 * The Credential Escrow Gateway client: uploads finished credentials over HTTPS with our client
 * certificate (mTLS), speaking the contract in ./wire-contract.ts.
 *
 * Trust is explicit: the server must chain to `caPem` and nothing else (no system roots), and
 * there is no switch to turn verification off. Connections are kept alive and reused, so a burst
 * of uploads pays for one handshake.
 *
 * Every failure is typed where it is born:
 *   - our client certificate refused (TLS alert, 401, 403) or the upload refused (400, 404, 409,
 *     413, 422, other 4xx)                                   → non-retryable GatewayRejected
 *   - the server certificate cannot be verified, or our own certificate/key are unusable
 *                                                            → non-retryable ConfigurationError
 *   - no answer (refused, reset, timeout), 5xx, 408, 429     → retryable GatewayUnavailable
 *     (Retry-After, when sent, becomes the next retry delay)
 * Messages carry the status and the problem title the server sent, never what we sent.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { ApplicationFailure } from '@temporalio/common';
import { ConfigError, type Config } from '../../config';
import { nonRetryable, retryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import { readPemFile, validatedUrl } from '../settings-files';
import { errorCodes, parseJson, TLS_TRUST_ERRORS } from '../transport';
import type { CredentialGateway, CredentialUpload, GatewayReceipt } from './credential-gateway';
import {
  archivedAllowedFor,
  classifyStatus,
  credentialPath,
  credentialUploadResponseSchema,
  devicePath,
  JSON_MEDIA_TYPE,
  parseRetryAfter,
  PROBLEM_MEDIA_TYPE,
  problemSchema,
  REQUEST_ID_HEADER,
  validateUploadBody,
  type CredentialUploadBody,
  type Problem,
} from './wire-contract';

export interface CegGatewayOptions {
  /** Base URL of the gateway, e.g. https://ceg.example.com:8443 (a path prefix is kept). */
  url: string;
  /** Our client certificate (PEM, chain after the leaf allowed). */
  clientCertPem: string;
  /** Its private key (PEM). */
  clientKeyPem: string;
  /** The only CA(s) the gateway's server certificate may chain to (PEM bundle). */
  caPem: string;
  /** Upper bound of one call, connect included. */
  timeoutMs: number;
  logger?: Logger;
}

/** The longest Retry-After we honour as a retry delay; longer waits are left to the next slot. */
const MAX_RETRY_AFTER_MS = 15 * 60 * 1000;
/** How much of an error body we read (problem documents are small). */
const MAX_ERROR_BODY_CHARS = 16 * 1024;

/** TLS alerts a server sends when it refuses the client certificate we presented. */
const CLIENT_CERT_REFUSED = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(?:UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

export class CegGateway implements CredentialGateway {
  readonly type = 'ceg';
  /** The contract's `archived` list: the device profile gets the user's earlier encryption keys too. */
  readonly carriesArchived = true;
  private readonly base: URL;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly logger?: Logger;

  constructor(options: CegGatewayOptions) {
    this.base = parseBaseUrl(options.url);
    this.timeoutMs = options.timeoutMs;
    this.logger = options.logger;
    // minVersion belongs in the context: tls.connect ignores the Agent's TLS options once it has one.
    const tls = { ca: options.caPem, cert: options.clientCertPem, key: options.clientKeyPem, minVersion: 'TLSv1.2' as const };
    let secureContext: SecureContext;
    try {
      // Fail at start, not at the first upload, when the PEMs are unreadable or do not pair.
      secureContext = createSecureContext(tls);
    } catch (err) {
      throw new ConfigError([`CEG_CLIENT_CERT / CEG_CLIENT_KEY / CEG_CA_FILE: unusable for TLS (${safeReason(err)})`]);
    }
    // node:https rather than undici: when a server refuses our certificate with a TLS alert after
    // a TLS 1.3 handshake, node:https reports the alert (ERR_SSL_..._ALERT_...), undici only
    // "other side closed", and the alert is what tells a refusal from an outage.
    this.agent = new Agent({
      ...tls,
      // One context for every connection: without it each new connection parses the CA, the
      // certificate and the key again (about 1 ms of CPU each in a burst, npm run bench).
      secureContext,
      rejectUnauthorized: true,
      keepAlive: true,
      // Idle kept-alive sockets are dropped after this (servers' own keep-alive hints are honoured too).
      timeout: 15_000,
      // As many connections as the worker runs activities by default, so uploads never queue here.
      maxSockets: 64,
      // Keep enough idle connections for a burst's uploads to reuse them instead of handshaking anew.
      maxFreeSockets: 32,
    });
  }

  async upload(credential: CredentialUpload): Promise<GatewayReceipt> {
    const archived = credential.archived ?? [];
    if (archived.length > 0 && !archivedAllowedFor(credential.kind)) {
      throw nonRetryable('GatewayRejected', `the CEG upload contract carries archived credentials only with an encryption credential, not with a ${credential.kind} one`);
    }
    const body: CredentialUploadBody = {
      pkcs12: credential.pkcs12.toString('base64'),
      // With an encrypted password the clear one stays home: the point of encrypting it.
      ...(credential.passwordForRecipient ? { passwordEncrypted: credential.passwordForRecipient } : { password: credential.password }),
      thumbprint: credential.thumbprint.toLowerCase(),
      email: credential.email,
      ...(credential.enrollmentUserId ? { enrollmentUserId: credential.enrollmentUserId } : {}),
      ...(credential.profile ? { profile: credential.profile } : {}),
      ...(archived.length > 0 ? { archived: archived.map((a) => ({ pkcs12: a.pkcs12.toString('base64'), thumbprint: a.thumbprint.toLowerCase() })) } : {}),
    };
    const checked = validateUploadBody(body);
    if (!checked.ok) {
      const fields = checked.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      throw nonRetryable('GatewayRejected', `the ${credential.kind} credential does not satisfy the CEG upload contract (${fields})`, { problems: checked.problems });
    }

    const what = `${credential.kind} credential for device ${credential.deviceUuid}`;
    const path = contractPath(() => credentialPath(credential.enrollmentUserUuid, credential.deviceUuid, credential.kind));
    const started = Date.now();
    const answer = await this.call('PUT', path, JSON.stringify(body), what);

    if (classifyStatus(answer.status) !== 'success') throw this.failureFor(answer, what);
    const parsed = credentialUploadResponseSchema.safeParse(parseJson(answer.text));
    const receipt: GatewayReceipt = parsed.success
      ? { alreadyPresent: parsed.data.status === 'already-present', receiptId: parsed.data.receiptId }
      : { alreadyPresent: answer.status === 200 };
    this.logger?.info(
      {
        kind: credential.kind,
        enrollmentUserUuid: credential.enrollmentUserUuid,
        deviceUuid: credential.deviceUuid,
        thumbprint: body.thumbprint,
        ...(body.archived ? { archivedThumbprints: body.archived.map((a) => a.thumbprint) } : {}),
        httpStatus: answer.status,
        outcome: parsed.success ? parsed.data.status : undefined,
        receiptId: receipt.receiptId,
        requestId: answer.requestId,
        ms: Date.now() - started,
      },
      receipt.alreadyPresent ? 'CEG already held this credential' : 'credential uploaded to CEG',
    );
    return receipt;
  }

  async delete(target: { enrollmentUserUuid: string; deviceUuid: string; enrollmentUserId?: string }): Promise<void> {
    const what = `credentials of device ${target.deviceUuid}`;
    const path = contractPath(() => devicePath(target.enrollmentUserUuid, target.deviceUuid));
    const answer = await this.call('DELETE', path, undefined, what);
    // 404: nothing there any more, which is what clean-up wants.
    if (answer.status === 204 || answer.status === 200 || answer.status === 202 || answer.status === 404) {
      this.logger?.info({ enrollmentUserUuid: target.enrollmentUserUuid, deviceUuid: target.deviceUuid, httpStatus: answer.status, requestId: answer.requestId }, 'device credentials removed from CEG');
      return;
    }
    throw this.failureFor(answer, what);
  }

  /** Close the kept-alive connections (process shutdown, tests). */
  async close(): Promise<void> {
    this.agent.destroy();
  }

  private async call(method: 'PUT' | 'DELETE', path: string, body: string | undefined, what: string): Promise<HttpAnswer> {
    const requestId = randomUUID();
    const url = new URL(this.base.pathname.replace(/\/$/, '') + path, this.base.origin);
    try {
      return await this.send(method, url, body, requestId);
    } catch (err) {
      throw this.transportFailure(err, what, requestId);
    }
  }

  private send(method: string, url: URL, body: string | undefined, requestId: string): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept: `${JSON_MEDIA_TYPE}, ${PROBLEM_MEDIA_TYPE}`,
            [REQUEST_ID_HEADER]: requestId,
            ...(body !== undefined ? { 'content-type': JSON_MEDIA_TYPE, 'content-length': Buffer.byteLength(body) } : {}),
          },
          signal: AbortSignal.timeout(this.timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < MAX_ERROR_BODY_CHARS) chunks.push(chunk);
            size += chunk.length;
          });
          res.on('error', reject);
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers['content-type'] ?? ''),
              retryAfter: res.headers['retry-after'],
              text: Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY_CHARS),
              requestId,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A typed failure for an HTTP answer that is not a success. */
  private failureFor(answer: HttpAnswer, what: string): ApplicationFailure {
    const problem = readProblem(answer);
    const title = problem?.title ? `: ${problem.title}` : '';
    const details = {
      httpStatus: answer.status,
      problemType: problem?.type,
      title: problem?.title,
      fieldErrors: problem?.errors,
      requestId: answer.requestId,
    };
    if (classifyStatus(answer.status) === 'transient') {
      const retryAfterMs = parseRetryAfter(answer.retryAfter);
      this.logger?.warn({ ...details, retryAfterMs }, 'CEG is unavailable');
      return gatewayUnavailable(`CEG did not take the ${what}: HTTP ${answer.status}${title}`, { ...details, retryAfterMs }, retryAfterMs);
    }
    this.logger?.warn(details, 'CEG rejected the request');
    const who = answer.status === 401 || answer.status === 403 ? ' (our client certificate is not accepted)' : '';
    return nonRetryable('GatewayRejected', `CEG rejected the ${what}: HTTP ${answer.status}${title}${who}`, details);
  }

  /** A typed failure for a call that got no HTTP answer. */
  private transportFailure(err: unknown, what: string, requestId: string): ApplicationFailure {
    const codes = errorCodes(err);
    const reason = codes[0] ?? safeReason(err);
    const details = { errorCode: reason, requestId, url: this.base.origin };
    const untrusted = codes.find((c) => TLS_TRUST_ERRORS.has(c));
    if (untrusted) {
      this.logger?.error(details, 'CEG server certificate does not verify against the configured CA');
      return nonRetryable('ConfigurationError', `CEG server certificate at ${this.base.origin} cannot be verified with the configured CA (${untrusted}); check CEG_CA_FILE and CEG_URL`, details);
    }
    const refused = codes.find((c) => CLIENT_CERT_REFUSED.test(c));
    if (refused) {
      this.logger?.error(details, 'CEG refused our client certificate during the TLS handshake');
      return nonRetryable('GatewayRejected', `CEG refused our client certificate during the TLS handshake (${refused}); check CEG_CLIENT_CERT`, details);
    }
    if (codes.some((c) => c.startsWith('ERR_OSSL_') || c === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE')) {
      return nonRetryable('ConfigurationError', `TLS to CEG at ${this.base.origin} cannot be set up (${reason})`, details);
    }
    this.logger?.warn(details, 'CEG did not answer');
    return gatewayUnavailable(`CEG did not answer for the ${what} (${timeoutLike(err, codes) ? `no answer within ${this.timeoutMs} ms` : reason})`, details, undefined);
  }
}

/**
 * The gateway for GATEWAY_TYPE=ceg: CEG_URL (https) with CEG_CLIENT_CERT / CEG_CLIENT_KEY (our
 * client certificate) and CEG_CA_FILE (the only CA CEG's server certificate may chain to). There
 * is no fallback: the development PKI reaches the worker only through these settings, set by the
 * dev stack.
 */
export function createCegGateway(config: Config, logger?: Logger): CegGateway {
  return new CegGateway({
    url: validatedUrl(config, 'cegUrl', { https: 'always' }),
    clientCertPem: readPemFile(config, 'cegClientCertFile', 'CERTIFICATE'),
    clientKeyPem: readPemFile(config, 'cegClientKeyFile', 'PRIVATE KEY'),
    caPem: readPemFile(config, 'cegCaFile', 'CERTIFICATE'),
    timeoutMs: config.gatewayTimeout,
    logger,
  });
}

interface HttpAnswer {
  status: number;
  contentType: string;
  retryAfter: string | string[] | undefined;
  text: string;
  requestId: string;
}

function parseBaseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError([`CEG_URL: not a URL (got "${url}")`]);
  }
  if (parsed.protocol !== 'https:') throw new ConfigError([`CEG_URL: must be https (mTLS) (got "${url}")`]);
  return parsed;
}

/** A contract path, or a typed refusal when the identifiers cannot form one (not UUIDs, unknown kind). */
function contractPath(build: () => string): string {
  try {
    return build();
  } catch {
    throw nonRetryable('GatewayRejected', 'the CEG contract needs EnrollmentUserUUID and DeviceUUID as UUIDs and kind signing or encryption');
  }
}

function gatewayUnavailable(message: string, details: Record<string, unknown>, retryAfterMs: number | undefined): ApplicationFailure {
  const nextRetryDelayMs = retryAfterMs === undefined ? undefined : Math.min(Math.max(retryAfterMs, 1000), MAX_RETRY_AFTER_MS);
  return retryable('GatewayUnavailable', message, details, { nextRetryDelayMs });
}

function readProblem(answer: HttpAnswer): Problem | undefined {
  if (!answer.contentType.includes('json')) return undefined;
  const parsed = problemSchema.safeParse(parseJson(answer.text));
  if (!parsed.success) return undefined;
  // Titles are short by nature; clip whatever a server sends so it cannot flood history.
  return { ...parsed.data, title: parsed.data.title?.slice(0, 200), detail: undefined };
}

function timeoutLike(err: unknown, codes: string[]): boolean {
  return codes.some((c) => c === 'TimeoutError' || c === 'AbortError' || c.endsWith('_TIMEOUT') || c === 'ETIMEDOUT') || (err as Error)?.name === 'TimeoutError';
}

/** An error's message, without anything that could echo a PEM. */
function safeReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[pem]').slice(0, 200);
}
