/**
 * The CA repository of the dev stack and the tests: a small HTTP server on loopback that publishes
 * what the URLs in the embedded CA's certificates point to (src/activities/ca/embedded/repository.ts)
 * — its current CRLs and its CA certificates — so a relying party (a mail client, OpenSSL, a test)
 * can fetch them and check revocation, as the S/MIME Baseline Requirements expect. Several CAs can
 * be published side by side, each under its own name: `GET /<name>/intermediate.crl`, ...
 *
 * Plain HTTP by design: CRLs and certificates are signed, and clients fetch them without TLS (a
 * CRL fetched over TLS would need revocation checking of its own). The CRL is asked of the CA on
 * every request, so it is always the current one (reissued after each revocation, and daily).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REPOSITORY_FILES, loopbackRepositoryBase, type RepositoryFile } from '../../activities/ca/embedded/repository';
import type { Logger } from '../../logging';

/** What the repository needs of a CA: the embedded CA has it. */
export interface PublishableCa {
  currentCrl(): Promise<Buffer>;
  currentRootCrl(): Promise<Buffer>;
  readonly rootCertificatePem: string;
  readonly intermediateCertificatePem: string;
}

export interface CaRepositoryOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1: the repository is for this machine only. */
  host?: string;
  logger?: Logger;
}

export interface CaRepository {
  port: number;
  /** The base URL of a CA published (or to be published) under `name`: what its certificates name. */
  baseUrl(name: string): string;
  publish(name: string, ca: PublishableCa): void;
  /** Requests answered so far, per path (tests check a client really fetched). */
  readonly hits: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export async function startCaRepository(options: CaRepositoryOptions): Promise<CaRepository> {
  const log = options.logger?.child({ component: 'ca-repository' });
  const published = new Map<string, PublishableCa>();
  const hits = new Map<string, number>();

  async function body(ca: PublishableCa, file: RepositoryFile): Promise<{ type: string; data: Buffer }> {
    switch (file) {
      case REPOSITORY_FILES.intermediateCrl:
        return { type: 'application/pkix-crl', data: await ca.currentCrl() };
      case REPOSITORY_FILES.rootCrl:
        return { type: 'application/pkix-crl', data: await ca.currentRootCrl() };
      case REPOSITORY_FILES.intermediateCertificate:
        return { type: 'application/pkix-cert', data: pemToDer(ca.intermediateCertificatePem) };
      case REPOSITORY_FILES.rootCertificate:
        return { type: 'application/pkix-cert', data: pemToDer(ca.rootCertificatePem) };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://repository').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET and HEAD\n');
      return;
    }
    const [, name, file, ...rest] = path.split('/');
    const ca = name ? published.get(name) : undefined;
    const known = Object.values(REPOSITORY_FILES) as string[];
    if (!ca || !file || rest.length > 0 || !known.includes(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such file; published: ${[...published.keys()].map((n) => `/${n}/{${known.join(',')}}`).join(' ') || 'nothing'}\n`);
      return;
    }
    const { type, data } = await body(ca, file as RepositoryFile);
    // Short caching: a CRL changes on every revocation, and clients should see that soon.
    res.writeHead(200, { 'content-type': type, 'content-length': data.length, 'cache-control': 'max-age=60' });
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log?.error({ err: (err as Error).message, url: req.url }, 'ca-repository: could not answer');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('the repository failed; see its log\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log?.info({ port }, 'CA repository listening');

  return {
    port,
    hits,
    baseUrl: (name) => loopbackRepositoryBase(port, name),
    publish(name, ca) {
      if (!NAME_PATTERN.test(name)) throw new Error(`"${name}" is not a repository name (lower-case letters, digits, dashes)`);
      published.set(name, ca);
      log?.info({ name, base: loopbackRepositoryBase(port, name) }, 'CA published');
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}
