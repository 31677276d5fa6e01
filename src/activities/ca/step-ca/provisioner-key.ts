import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { PublicationUrls } from '../../../domain/certificate-profile';
import type { CredentialKind } from '../../../domain/enrollment';

/** How long a one-time token is valid: long enough for clock skew, short enough to be useless later. */
const TOKEN_LIFETIME_SECONDS = 5 * 60;

/**
 * A step-ca JWK provisioner, seen from the client side: its name and private key. It signs the
 * one-time tokens (OTT) step-ca's `/1.0/sign` and `/1.0/revoke` require, and derives the
 * deterministic identifiers that make a lost answer recoverable (see `reconciliationIds`).
 */
export class ProvisionerKey {
  private constructor(
    readonly name: string,
    readonly keyId: string,
    private readonly algorithm: string,
    private readonly signingKey: CryptoKey | Uint8Array,
    /** Secret derived from the private key: only holders of the provisioner key can predict ids. */
    private readonly idSecret: Buffer,
  ) {}

  /**
   * Import a decrypted JWK (what `step crypto jwe decrypt` prints for the provisioner's
   * `encryptedKey`). The key id must be the one in ca.json: the JWK's `kid`, or else its RFC 7638
   * thumbprint, which is what `step` uses by default.
   */
  static async fromJwk(name: string, jwk: JWK): Promise<ProvisionerKey> {
    if (typeof jwk.d !== 'string' || jwk.d.length === 0) throw new Error('the provisioner JWK has no private part ("d")');
    const algorithm = jwk.alg ?? defaultAlgorithm(jwk);
    const keyId = jwk.kid ?? (await calculateJwkThumbprint(jwk));
    const signingKey = await importJWK(jwk, algorithm);
    const idSecret = Buffer.from(hkdfSync('sha256', Buffer.from(jwk.d, 'base64url'), 'smime-escrow-provider', 'step-ca reconciliation ids v1', 32));
    return new ProvisionerKey(name, keyId, algorithm, signingKey, idSecret);
  }

  /** A sign token bound to one CSR (claim `cnf`), one email, one serial and one jti. */
  signToken(input: SignTokenInput): Promise<string> {
    return this.token({
      audience: `${input.caUrl}/1.0/sign`,
      subject: input.subject,
      jti: input.jti,
      claims: {
        sans: [input.email],
        // step-ca checks SHA-256(CSR DER) against this before it signs: the token is good for our CSR only.
        cnf: { 'x5rt#S256': input.csrSha256.toString('base64url') },
        // Read by the provider's S/MIME template (smime-template.ts): key usage, serial, the
        // CA/B Forum profile's policies, and where relying parties find the CRL and the issuer.
        smime: {
          kind: input.kind,
          serial: `0x${input.serialHex}`,
          policies: input.policies,
          crl: input.publication.crl,
          ...(input.publication.caIssuers ? { caIssuers: input.publication.caIssuers } : {}),
          ...(input.publication.ocsp ? { ocsp: input.publication.ocsp } : {}),
        },
      },
    });
  }

  /** A revoke token: step-ca wants the serial, in decimal, as the subject. */
  revokeToken(input: { caUrl: string; serialHex: string }): Promise<string> {
    return this.token({
      audience: `${input.caUrl}/1.0/revoke`,
      subject: BigInt(`0x${input.serialHex}`).toString(10),
      jti: randomBytes(32).toString('base64url'),
      claims: {},
    });
  }

  /**
   * The jti and serial number of submission `attempt` for one (idempotency key, CSR): the same on
   * every worker and after every restart, unpredictable without the provisioner key (so nobody
   * else can burn our jti in advance, and the serial keeps 128 bits no outsider can guess).
   */
  reconciliationIds(idempotencyKey: string, csrSha256Hex: string, attempt: number): { jti: string; serialHex: string } {
    const derive = (label: string) =>
      createHmac('sha256', this.idSecret).update(`${label}\0${idempotencyKey}\0${csrSha256Hex}\0${attempt}`).digest();
    const serial = derive('serial').subarray(0, 16);
    // A positive INTEGER of at most 16 bytes (RFC 5280 allows 20), never zero.
    serial[0] = (serial[0]! & 0x7f) | 0x40;
    return { jti: derive('jti').toString('base64url'), serialHex: BigInt(`0x${serial.toString('hex')}`).toString(16) };
  }

  private async token(input: { audience: string; subject: string; jti: string; claims: Record<string, unknown> }): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(input.claims)
      .setProtectedHeader({ alg: this.algorithm, kid: this.keyId, typ: 'JWT' })
      .setIssuer(this.name)
      .setAudience(input.audience)
      .setSubject(input.subject)
      .setJti(input.jti)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
      .sign(this.signingKey);
  }
}

export interface SignTokenInput {
  caUrl: string;
  /** Becomes the certificate's subject CN in the template; step-ca also accepts it as the CSR's CN. */
  subject: string;
  email: string;
  kind: CredentialKind;
  csrSha256: Buffer;
  jti: string;
  serialHex: string;
  /** certificatePolicies: the reserved CA/B Forum OID first, then the organisation's. */
  policies: string[];
  publication: PublicationUrls;
}

function defaultAlgorithm(jwk: JWK): string {
  if (jwk.kty === 'EC') {
    if (jwk.crv === 'P-256') return 'ES256';
    if (jwk.crv === 'P-384') return 'ES384';
    if (jwk.crv === 'P-521') return 'ES512';
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  throw new Error(`unsupported provisioner key type ${jwk.kty ?? '?'} ${jwk.crv ?? ''} (expected EC P-256/P-384/P-521, Ed25519 or RSA)`);
}
