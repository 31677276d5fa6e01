/**
 * The UEM simulator's `POST /api/system/users/{id}/uploadsmimecerts` (mounted on the
 * authenticated /api router, so the tenant code and Basic/OAuth checks apply first).
 *
 * Body: `Signing` and/or `Encryption`, each `{ CertificatePayload: <base64 PKCS#12>, Password }`,
 * and optionally `Archived`, a list of the same objects (the user's earlier certificates; UEM's
 * model has it, and UEM's reference says it ignores it for now — the simulator checks and records
 * it so the provider's use of it is visible).
 * Each object is checked as UEM would need it to be usable on a device: the PKCS#12 opens with
 * the password (MAC and bags), it holds a key and the certificate for that key, the certificate
 * has EKU emailProtection and a SAN rfc822Name equal to the user's email in the simulator's
 * directory, and it is within its validity. An archived one is there to open old mail, so it may
 * have expired and may name an address the user had before: those two checks are skipped for it.
 * All objects pass or the upload is refused as a whole: 200 with no body (as UEM answers), or 400
 * `{ errorCode, message }`.
 *
 * The email rule is exact for fixture users. A synthetic user (any id no fixture names) accepts
 * any address in the simulator's own domain: the simulator's synthetic users by id and by UUID
 * are separate stand-ins (user-<id>@… and user-<uuid prefix>@…), and the provider may have learnt
 * the address from the event or a v2 look-up by UUID, as `npm run simulate` events make it do.
 * A certificate for an address outside that domain is still refused.
 *
 * What is recorded (context.uploads) is public: user id, kinds, certificate thumbprints, time.
 * Never the PKCS#12 or the password, which also stay out of every log line and answer.
 */
import { createHash, createPrivateKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { smimeUploadBody, type UemSmimeCertificate } from '../../activities/uem/rest-contract';
import { readPkcs12 } from '../../activities/crypto/pkcs12';
import { x509 } from '../../activities/crypto/x509';
import type { CredentialKind } from '../../domain/enrollment';
import type { DirectUpload, UemSimContext } from './server';
import { answerBodyErrors, uemError } from './mdm';
import { SIM_EMAIL_DOMAIN } from './users';

const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';
/** Two PKCS#12 files in base64 with long chains stay far below this. */
const MAX_BODY = '1mb';

const bodySchema = smimeUploadBody;

type Checked = { ok: true; thumbprint: string } | { ok: false; message: string };

export function mountDirectUpload(api: Router, context: UemSimContext): void {
  api.post('/system/users/:id/uploadsmimecerts', express.json({ limit: MAX_BODY }), (req: Request, res: Response) => receive(req, res, context), answerBodyErrors);
}

async function receive(req: Request, res: Response, context: UemSimContext): Promise<void> {
  const userId = String(req.params.id);
  if (!/^\d+$/.test(userId)) return void uemError(res, 404, 'User not found.');
  const found = context.users.lookUpById(userId);
  if ('status' in found) {
    if (found.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(found.retryAfterSeconds));
    return void uemError(res, found.status, found.status === 404 ? 'User not found.' : 'Simulated failure.');
  }
  const parsed = bodySchema.safeParse(req.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return void uemError(res, 400, `Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}.`);
  }
  const objects = (['signing', 'encryption'] as const)
    .map((kind) => ({ kind, certificate: kind === 'signing' ? parsed.data.Signing : parsed.data.Encryption }))
    .filter((o): o is { kind: CredentialKind; certificate: UemSmimeCertificate } => o.certificate !== undefined);
  if (objects.length === 0) return void uemError(res, 400, 'Invalid request: a Signing or an Encryption certificate is required.');
  if (!found.user.email) return void uemError(res, 400, 'The user has no email address, so an S/MIME certificate cannot be assigned.');

  const thumbprints: Partial<Record<CredentialKind, string>> = {};
  for (const { kind, certificate } of objects) {
    const checked = await checkCertificate(certificate.CertificatePayload, certificate.Password, emailRule(found.user.email, found.synthetic === true)).catch(
      (): Checked => ({ ok: false, message: 'the certificate in the payload cannot be read.' }),
    );
    if (!checked.ok) {
      context.logger?.info({ userId, kind, reason: checked.message }, 'UEM simulator refused a direct S/MIME upload');
      return void uemError(res, 400, `${kind === 'signing' ? 'Signing' : 'Encryption'} certificate: ${checked.message}`);
    }
    thumbprints[kind] = checked.thumbprint;
  }
  const archivedThumbprints: string[] = [];
  for (const [i, certificate] of (parsed.data.Archived ?? []).entries()) {
    const checked = await checkCertificate(certificate.CertificatePayload, certificate.Password, 'archived').catch(
      (): Checked => ({ ok: false, message: 'the certificate in the payload cannot be read.' }),
    );
    if (!checked.ok) {
      context.logger?.info({ userId, archived: i, reason: checked.message }, 'UEM simulator refused a direct S/MIME upload');
      return void uemError(res, 400, `Archived certificate ${i + 1}: ${checked.message}`);
    }
    archivedThumbprints.push(checked.thumbprint);
  }
  const upload: DirectUpload = {
    userId,
    receivedAt: new Date().toISOString(),
    kinds: objects.map((o) => o.kind),
    thumbprints,
    ...(archivedThumbprints.length > 0 ? { archivedThumbprints } : {}),
  };
  context.uploads.push(upload);
  context.logger?.info({ userId, kinds: upload.kinds, thumbprints, archivedThumbprints }, 'UEM simulator received S/MIME certificates by direct upload');
  res.status(200).end();
}

/** Which SAN addresses belong to the user (see the header for synthetic users). */
function emailRule(email: string, synthetic: boolean): (address: string) => boolean {
  const exact = email.toLowerCase();
  const domain = `@${SIM_EMAIL_DOMAIN}`;
  return synthetic ? (address) => address === exact || address.endsWith(domain) : (address) => address === exact;
}

/** `archived`: an earlier certificate of the user, for old mail: neither its address nor its validity is checked. */
async function checkCertificate(payload: string, password: string, belongsToUser: ((address: string) => boolean) | 'archived'): Promise<Checked> {
  const compact = payload.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return { ok: false, message: 'CertificatePayload is not base64.' };
  let opened: Awaited<ReturnType<typeof readPkcs12>>;
  try {
    opened = await readPkcs12(Buffer.from(compact, 'base64'), password);
  } catch {
    return { ok: false, message: 'the certificate payload cannot be opened with the password given.' };
  }

  let privateKey;
  try {
    privateKey = createPrivateKey({ key: opened.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
  } catch {
    return { ok: false, message: 'the private key in the certificate payload cannot be read.' };
  }
  const leafPem = opened.certificatesPem.find((pem) => {
    try {
      return new NodeX509Certificate(pem).checkPrivateKey(privateKey);
    } catch {
      return false;
    }
  });
  if (!leafPem) return { ok: false, message: 'no certificate in the payload matches its private key.' };

  const leaf = new x509.X509Certificate(leafPem);
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku?.usages.map(String).includes(EMAIL_PROTECTION)) return { ok: false, message: 'the certificate is not for email protection (extended key usage).' };
  if (belongsToUser !== 'archived') {
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    const emails = san?.names.items.filter((name) => name.type === 'email').map((name) => name.value.toLowerCase()) ?? [];
    if (!emails.some(belongsToUser)) return { ok: false, message: "the certificate's email address does not match the user's." };
    const now = Date.now();
    if (leaf.notBefore.getTime() > now || leaf.notAfter.getTime() < now) return { ok: false, message: 'the certificate is not within its validity period.' };
  }

  return { ok: true, thumbprint: createHash('sha256').update(Buffer.from(leaf.rawData)).digest('hex') };
}
