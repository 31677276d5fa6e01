import { Agent, request, type Dispatcher } from 'undici';
import { nonRetryable, retryable } from '../../domain/errors';
import { errorCodes, TLS_TRUST_ERRORS } from '../transport';

/** One answer from a CA's HTTP API: status and body, whatever the status. */
export interface CaHttpResponse {
  status: number;
  /** The body as text (CAs answer JSON or PEM; callers decide). */
  text: string;
}

export interface CaHttpOptions {
  /** Base URL, e.g. `https://ca.example.com:9000`; paths are appended to it. */
  baseUrl: string;
  /** PEM bundle that verifies the CA's TLS server certificate; absent: Node's default trust store. */
  rootPem?: string;
  /** Timeout of one call (connect, headers and body each). */
  timeoutMs: number;
  /** Name used in error messages, e.g. `step-ca`. */
  caName: string;
}

/**
 * The transport the CA adapters share. It turns transport failures into typed errors where they
 * are born — the CA did not answer: retryable `CaUnavailable`; its TLS certificate does not verify
 * against the configured root: `ConfigurationError` — and hands every HTTP answer, 4xx and 5xx
 * included, to the adapter, which alone knows what a status means for its CA.
 */
export class CaHttp {
  private readonly dispatcher: Dispatcher;
  readonly baseUrl: string;

  constructor(private readonly options: CaHttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.dispatcher = new Agent({
      connect: { ca: options.rootPem, timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  async call(method: 'GET' | 'POST', path: string, init: { json?: unknown; headers?: Record<string, string> } = {}): Promise<CaHttpResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    let body: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    try {
      const response = await request(`${this.baseUrl}${path}`, { method, headers, body, dispatcher: this.dispatcher });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (err) {
      throw this.transportFailure(method, path, err);
    }
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  private transportFailure(method: string, path: string, err: unknown) {
    const code = errorCodes(err)[0] ?? '';
    const what = `${this.options.caName} ${method} ${path}`;
    if (TLS_TRUST_ERRORS.has(code)) {
      return nonRetryable('ConfigurationError', `${what}: the CA's TLS certificate does not verify (${code}); check CA_URL and CA_ROOT_FILE`);
    }
    return retryable('CaUnavailable', `${what}: no answer (${code || (err as Error).message})`);
  }
}

/** A short, single-line excerpt of an error body for messages (never a whole body). */
export function excerpt(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
