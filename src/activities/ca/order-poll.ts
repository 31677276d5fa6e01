/**
 * `CertificateAuthority` over an order-and-poll CA (the shape of commercial S/MIME APIs, see
 * ./order-poll/contract.ts): submit places an order whose `externalId` is the idempotency key, so
 * a retried or duplicated submission finds the existing order instead of placing a second one —
 * the CA itself is idempotent and no local ledger is needed. A pending order is polled by its id
 * until it is issued (then the chain is downloaded) or rejected.
 *
 * Errors, typed where they are born: API key refused (401/403) or an unknown endpoint (404 on
 * place) → `ConfigurationError`; order invalid or rejected → `CertificateRejected`; no answer,
 * 429 or 5xx → `CaUnavailable` (retryable).
 */
import type { CaAnswer, CertificateAuthority, CertificateSigningRequest, RevocationReason } from './certificate-authority';
import { API_KEY_HEADER, errorSchema, ORDER_PRODUCT, orderSchema, ROUTES, type Order, type OrderRequest } from './order-poll/contract';
import { CaHttp, excerpt, type CaHttpResponse } from './ca-http';
import { parseJson } from '../transport';
import { normalizeSerial, splitPemBundle } from '../crypto/certificate-info';
import { DEFAULT_CERTIFICATE_PROFILE } from '../../domain/certificate-profile';
import { nonRetryable, retryable } from '../../domain/errors';
import type { Logger } from '../../logging';

export interface OrderPollCaOptions {
  /** Base URL of the CA API (CA_URL), e.g. `https://api.ca.example/` or the simulator. */
  url: string;
  /** ORDER_CA_API_KEY. */
  apiKey: string;
  /** PEM that verifies the API's TLS certificate (CA_ROOT_FILE); absent: Node's trust store. */
  rootPem?: string;
  requestTimeoutMs: number;
  logger: Logger;
}

export class OrderPollCa implements CertificateAuthority {
  readonly type = 'order-poll';
  private readonly http: CaHttp;

  constructor(private readonly options: OrderPollCaOptions) {
    this.http = new CaHttp({ baseUrl: options.url, rootPem: options.rootPem, timeoutMs: options.requestTimeoutMs, caName: 'order-poll CA' });
  }

  async submit(request: CertificateSigningRequest): Promise<CaAnswer> {
    const body: OrderRequest = {
      csr: request.csrPem,
      email: request.email,
      product: ORDER_PRODUCT,
      profile: request.profile ?? DEFAULT_CERTIFICATE_PROFILE,
      usage: request.kind,
      validityDays: request.validityDays,
      externalId: request.idempotencyKey,
      ...(request.displayName ? { displayName: request.displayName } : {}),
    };
    const response = await this.call('POST', ROUTES.orders, body);
    if (response.status !== 200 && response.status !== 201) throw this.failure('place order', response);
    const order = this.orderFrom(response);
    this.options.logger.info({ orderId: order.orderId, status: order.status, repeated: response.status === 200 }, 'order-poll CA: order placed');
    return this.answerFor(order);
  }

  async poll(orderId: string): Promise<CaAnswer> {
    const response = await this.call('GET', ROUTES.order(orderId));
    if (response.status !== 200) throw this.failure(`order ${orderId}`, response);
    return this.answerFor(this.orderFrom(response));
  }

  async revoke(serial: string, reason: RevocationReason): Promise<void> {
    const hex = normalizeSerial(serial);
    const response = await this.call('POST', ROUTES.revoke(hex), { reason });
    if (response.status !== 200) throw this.failure(`revoke ${hex}`, response);
    this.options.logger.info({ serial: hex, reason }, 'order-poll CA: certificate revoked');
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async answerFor(order: Order): Promise<CaAnswer> {
    switch (order.status) {
      case 'pending':
        return { status: 'pending', requestId: order.orderId };
      case 'rejected':
        throw nonRetryable('CertificateRejected', `the CA rejected order ${order.orderId}: ${order.rejectionReason ?? 'no reason given'}`);
      case 'issued': {
        const response = await this.call('GET', ROUTES.certificate(order.orderId), undefined, 'application/pem-certificate-chain');
        if (response.status !== 200) throw this.failure(`certificate of order ${order.orderId}`, response);
        const [leaf, ...chain] = splitPemBundle(response.text);
        if (!leaf) throw retryable('CaUnavailable', `order-poll CA: the certificate of order ${order.orderId} came without a PEM certificate`);
        return { status: 'issued', certificatePem: leaf, chainPem: chain, requestId: order.orderId };
      }
    }
  }

  private call(method: 'GET' | 'POST', path: string, json?: unknown, accept = 'application/json'): Promise<CaHttpResponse> {
    return this.http.call(method, path, { json, headers: { [API_KEY_HEADER]: this.options.apiKey, accept } });
  }

  private orderFrom(response: CaHttpResponse) {
    const parsed = orderSchema.safeParse(parseJson(response.text));
    if (!parsed.success) throw retryable('CaUnavailable', `order-poll CA answered HTTP ${response.status} with something that is not an order: ${excerpt(response.text)}`);
    return parsed.data;
  }

  /** A non-success answer, typed where it is born. Never echoes the API key. */
  private failure(what: string, response: CaHttpResponse) {
    const error = errorSchema.safeParse(parseJson(response.text));
    const detail = error.success ? `${error.data.error.code}: ${excerpt(error.data.error.message)}` : excerpt(response.text);
    const message = `order-poll CA, ${what}: HTTP ${response.status} (${detail})`;
    if (response.status === 401 || response.status === 403) return nonRetryable('ConfigurationError', `${message}; check ORDER_CA_API_KEY`);
    if (response.status === 429 || response.status >= 500) return retryable('CaUnavailable', message);
    if (response.status === 404 && what === 'place order') return nonRetryable('ConfigurationError', `${message}; check CA_URL`);
    return nonRetryable('CertificateRejected', message);
  }
}
