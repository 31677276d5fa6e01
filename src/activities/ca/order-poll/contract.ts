/**
 * The order-and-poll CA wire contract, modelled on commercial S/MIME APIs (DigiCert CertCentral,
 * Sectigo SCM): an order is placed, stays `pending` while the CA validates (hours or days), then
 * is `issued` (certificate downloadable) or `rejected`. One module, shared by the adapter and the
 * local simulator, so the two cannot drift apart.
 *
 *   POST /v1/orders                       place an order (or get the existing one for externalId)
 *        X-API-Key: <key>
 *        {csr, email, product: "smime-mailbox", profile?, usage, validityDays, externalId, displayName?}
 *        → 201 Order (new) | 200 Order (externalId seen before, same CSR) | 409 (same externalId, other CSR)
 *   GET  /v1/orders/{orderId}             → 200 Order; "pending" is a normal answer, not an error
 *   GET  /v1/orders/{orderId}/certificate → 200 PEM chain (leaf first) | 409 not issued (yet)
 *   POST /v1/certificates/{serial}/revoke {reason} → 200 {serial, revokedAt} (again: same answer)
 *
 * Errors: `{error: {code, message}}` with 400 (invalid order), 401 (no or bad API key), 404
 * (unknown order or serial), 409 (conflict / not ready), 429 and 5xx (try later).
 */
import { z } from 'zod';
import { CERTIFICATE_PROFILES } from '../../../domain/certificate-profile';

export const API_KEY_HEADER = 'x-api-key';
export const ORDER_PRODUCT = 'smime-mailbox';
export const PEM_CHAIN_MEDIA_TYPE = 'application/pem-certificate-chain';

export const ROUTES = {
  orders: '/v1/orders',
  order: (orderId: string) => `/v1/orders/${encodeURIComponent(orderId)}`,
  certificate: (orderId: string) => `/v1/orders/${encodeURIComponent(orderId)}/certificate`,
  revoke: (serialHex: string) => `/v1/certificates/${encodeURIComponent(serialHex)}/revoke`,
} as const;

export const orderRequestSchema = z.object({
  csr: z.string().min(1).max(20_000),
  email: z.email(),
  product: z.literal(ORDER_PRODUCT),
  /** The CA/B Forum S/MIME generation of the Mailbox-validated product; absent: mailbox-strict. */
  profile: z.enum(CERTIFICATE_PROFILES).optional(),
  /** Which S/MIME certificate: key usage digitalSignature (signing) or key encipherment/agreement. */
  usage: z.enum(['signing', 'encryption']),
  validityDays: z.number().int().min(1).max(825),
  /** The client's idempotency key: a repeated externalId returns the existing order. */
  externalId: z.string().min(1).max(200),
  displayName: z.string().max(200).optional(),
});
export type OrderRequest = z.infer<typeof orderRequestSchema>;

export const orderStatusSchema = z.enum(['pending', 'issued', 'rejected']);
export type OrderStatus = z.infer<typeof orderStatusSchema>;

export const orderSchema = z.object({
  orderId: z.string().min(1),
  externalId: z.string(),
  status: orderStatusSchema,
  email: z.string(),
  product: z.string(),
  createdAt: z.string(),
  /** When issued: the certificate's serial number, lower-case hex. */
  serial: z.string().optional(),
  issuedAt: z.string().optional(),
  /** When rejected: why, in the CA's words. */
  rejectionReason: z.string().optional(),
});
export type Order = z.infer<typeof orderSchema>;

export const revokeRequestSchema = z.object({
  reason: z.enum(['cessationOfOperation', 'keyCompromise', 'affiliationChanged', 'superseded']),
});

export interface ApiError {
  error: { code: string; message: string };
}

export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
