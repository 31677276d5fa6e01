/**
 * The credential gateway for tenants without a Credential Escrow Gateway: the credential goes
 * straight to UEM through its REST System API,
 *
 *   POST {UEM_API_URL}/api/system/users/{EnrollmentUserId}/uploadsmimecerts
 *   Accept: application/json;version=1       aw-tenant-code: <API key>     Basic or Bearer
 *   { "Signing":    { "CertificatePayload": <base64 PKCS#12>, "Password": <password> } }
 *   { "Encryption": { "CertificatePayload": <base64 PKCS#12>, "Password": <password> },
 *     "Archived": [ { "CertificatePayload": <base64 PKCS#12>, "Password": <password> }, ... ] }
 *
 * one object per call, for the credential kind being delivered; `Archived` (the user's earlier
 * encryption credentials, newest first) only with `Encryption` and only when there are any. UEM then holds the private key
 * and its password (see docs/uem-direct-upload.md): the very thing CEG exists to avoid, so this
 * is the fallback, not the default.
 *
 * Repeats are harmless: UEM replaces the user's S/MIME certificate of that kind, so uploading the
 * same credential again leaves the same state. UEM's answer has no body, so it cannot say it
 * already held the credential: `alreadyPresent` is always false.
 *
 * There is no `delete`: UEM's REST API offers no call that removes certificates uploaded this way
 * (they go when the user or the profile does), so unenroll clean-up says the gateway cannot delete.
 *
 * Errors, typed where they are born (messages carry the status and UEM's own error message,
 * never what we sent):
 *   - no numeric EnrollmentUserId in the event          → GatewayRejected (nothing to address)
 *   - 401, 403 (credentials, API key, role)             → ConfigurationError
 *   - 400, 404, 409, 422 and other 4xx                  → GatewayRejected
 *   - 5xx, 408, 429, no answer, timeout                 → GatewayUnavailable (Retry-After honoured)
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../../config';
import { nonRetryable, retryable } from '../../domain/errors';
import type { CredentialKind } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import type { CredentialGateway, CredentialUpload, GatewayReceipt } from './credential-gateway';
import { acceptVersion, API_VERSIONS, smimeUploadBodyFor, UEM_PATHS, type UemSmimeUploadBody } from '../uem/rest-contract';
import { isTransientStatus, retryDelayFor, sharedUemClient, UemRestClient, type UemAnswer, type UemCredentials } from '../uem/uem-rest-client';
import { parseJsonObject } from '../transport';

export type UemDirectGatewayOptions = {
  /** Upper bound of one upload (and of one token request of a client of its own). */
  timeoutMs: number;
  logger?: Logger;
} & (
  | (UemCredentials & {
      /** e.g. https://as1234.awmdm.com (a trailing /api is tolerated). */
      baseUrl: string;
      /** The REST API key, sent as aw-tenant-code. */
      tenantCode: string;
    })
  | { /** A client shared with the other UEM adapters (token, rate-limit budget). */ client: UemRestClient }
);

// The wire shapes live in the UEM REST contract (src/activities/uem/rest-contract.ts).
export type { UemSmimeCertificate, UemSmimeUploadBody } from '../uem/rest-contract';

export const UEM_UPLOAD_ACCEPT = acceptVersion(API_VERSIONS.uploadSmimeCerts);

/** UEM's messages are short; a longer one is clipped so it cannot flood workflow history. */
const MAX_UEM_MESSAGE_CHARS = 200;

export function uploadSmimeCertsPath(enrollmentUserId: string): string {
  return UEM_PATHS.uploadSmimeCerts(enrollmentUserId);
}

export function uploadSmimeCertsBody(kind: CredentialKind, pkcs12: Buffer, password: string, archived: Buffer[] = []): UemSmimeUploadBody {
  return smimeUploadBodyFor(kind, pkcs12, password, archived);
}

export class UemDirectGateway implements CredentialGateway {
  readonly type = 'uem-direct';
  /** UEM's SMIMECertificate model has an `Archived` list (which UEM's own reference says it ignores for now). */
  readonly carriesArchived = true;
  private readonly client: UemRestClient;
  private readonly logger?: Logger;
  private readonly timeoutMs: number;

  constructor(options: UemDirectGatewayOptions) {
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs;
    this.client = 'client' in options ? options.client : new UemRestClient({ ...options, unavailableType: 'GatewayUnavailable' });
  }

  async upload(credential: CredentialUpload): Promise<GatewayReceipt> {
    const userId = credential.enrollmentUserId?.trim();
    if (!userId || !/^\d+$/.test(userId)) {
      throw nonRetryable(
        'GatewayRejected',
        `UEM direct upload needs the numeric EnrollmentUserId of the user, and the enrollment event for device ${credential.deviceUuid} carries ${userId ? 'a non-numeric one' : 'none'}: check the UEM event notification, or use GATEWAY_TYPE=ceg`,
        { enrollmentUserUuid: credential.enrollmentUserUuid, deviceUuid: credential.deviceUuid },
      );
    }
    const archived = credential.archived ?? [];
    if (archived.length > 0 && credential.kind !== 'encryption') {
      throw nonRetryable('GatewayRejected', `UEM's S/MIME upload takes archived certificates with an encryption certificate only, not with a ${credential.kind} one`);
    }
    const path = uploadSmimeCertsPath(userId);
    const what = `${credential.kind} credential for UEM user ${userId}`;
    const started = Date.now();
    const answer = await this.client.send({
      method: 'POST',
      path,
      accept: UEM_UPLOAD_ACCEPT,
      json: JSON.stringify(uploadSmimeCertsBody(credential.kind, credential.pkcs12, credential.password, archived.map((a) => a.pkcs12))),
      unavailableType: 'GatewayUnavailable',
      timeoutMs: this.timeoutMs,
    });
    if (answer.status < 200 || answer.status > 299) throw this.failureFor(answer, what, credential);
    this.logger?.info(
      {
        kind: credential.kind,
        enrollmentUserId: userId,
        enrollmentUserUuid: credential.enrollmentUserUuid,
        deviceUuid: credential.deviceUuid,
        thumbprint: credential.thumbprint.toLowerCase(),
        ...(archived.length > 0 ? { archivedThumbprints: archived.map((a) => a.thumbprint.toLowerCase()) } : {}),
        httpStatus: answer.status,
        ms: Date.now() - started,
      },
      'credential uploaded to UEM (direct)',
    );
    return { alreadyPresent: false };
  }

  private failureFor(answer: UemAnswer, what: string, credential: CredentialUpload): ApplicationFailure {
    const uem = readUemError(answer, [credential.password, credential.pkcs12.toString('base64'), ...(credential.archived ?? []).map((a) => a.pkcs12.toString('base64'))]);
    const said = uem.message ? `: ${uem.message}` : '';
    const details = { httpStatus: answer.status, uemErrorCode: uem.errorCode, uemMessage: uem.message };
    if (isTransientStatus(answer.status)) {
      const nextRetryDelayMs = retryDelayFor(answer);
      this.logger?.warn({ ...details, retryAfterMs: answer.retryAfterMs }, 'UEM is unavailable for the direct upload');
      return retryable('GatewayUnavailable', `UEM did not take the ${what}: HTTP ${answer.status}${said}`, { ...details, retryAfterMs: answer.retryAfterMs }, { nextRetryDelayMs });
    }
    if (answer.status === 401 || answer.status === 403) {
      this.logger?.error(details, 'UEM refused the API credentials for the direct upload');
      return nonRetryable(
        'ConfigurationError',
        `UEM refused the ${what}: HTTP ${answer.status}${said} (check UEM_API_USERNAME/UEM_API_PASSWORD or the UEM_OAUTH_* client, UEM_API_TENANT_CODE, and that the API account's role may upload S/MIME certificates)`,
        details,
      );
    }
    this.logger?.warn(details, 'UEM rejected the direct upload');
    return nonRetryable('GatewayRejected', `UEM rejected the ${what}: HTTP ${answer.status}${said}`, details);
  }
}

/**
 * UEM's error document, `{ errorCode, message }` (field case varies between versions). The
 * message is UEM's, but is scrubbed of anything we sent before it goes into an error, in case a
 * server ever echoes input.
 */
function readUemError(answer: UemAnswer, sent: string[]): { errorCode?: number | string; message?: string } {
  const body = parseJsonObject(answer.text);
  if (!body) return {};
  const lower = new Map(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
  const errorCode = lower.get('errorcode');
  const rawMessage = lower.get('message');
  let message = typeof rawMessage === 'string' ? rawMessage : undefined;
  if (message) {
    for (const secret of sent) if (secret.length > 0) message = message.split(secret).join('[redacted]');
    // Long base64 runs are certificates or keys, never an explanation.
    message = message.replace(/[A-Za-z0-9+/=]{64,}/g, '[redacted]').trim().slice(0, MAX_UEM_MESSAGE_CHARS);
  }
  return {
    ...(typeof errorCode === 'number' || typeof errorCode === 'string' ? { errorCode } : {}),
    ...(message ? { message } : {}),
  };
}

/**
 * The gateway for GATEWAY_TYPE=uem-direct: UEM_API_URL, UEM_API_TENANT_CODE, and
 * UEM_API_USERNAME/UEM_API_PASSWORD or the UEM_OAUTH_* client (OAuth wins when both are set);
 * GATEWAY_TIMEOUT bounds each call.
 */
export function createUemDirectGateway(config: Config, logger?: Logger): UemDirectGateway {
  const client = sharedUemClient(config, logger);
  logger?.warn(
    { gateway: 'uem-direct', uemHost: client.host },
    'credentials are uploaded straight to UEM: UEM receives and stores the private keys and their passwords (CEG avoids this; see docs/uem-direct-upload.md)',
  );
  return new UemDirectGateway({ timeoutMs: config.gatewayTimeout, logger, client });
}
