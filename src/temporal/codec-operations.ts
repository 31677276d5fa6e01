/**
 * The codec endpoints' operations and shapes (see codec-server.ts), listed in the API's
 * /openapi.json beside its own. The router validates requests with these schemas.
 */
import { z } from 'zod';
import { defineOperation } from '../api/openapi/operation';
import { PROBLEM_CONTENT_TYPE } from '../api/problem';
import { Problem } from '../api/schemas/common';

export const MAX_PAYLOADS = 1000;
export const CODEC_BODY_LIMIT = '4mb';

const Base64 = z.string().meta({ contentEncoding: 'base64' });

/** Temporal's Payload as the UI and CLI send it over HTTP: metadata values and data base64. */
const JsonPayload = z.object({ metadata: z.record(z.string(), Base64).optional(), data: Base64.optional() });
export type JsonPayload = z.output<typeof JsonPayload>;

export const CodecPayloads = z.object({ payloads: z.array(JsonPayload).max(MAX_PAYLOADS) });

export const CodecLoginForm = z.object({ token: z.string().meta({ description: 'An operator token from API_TOKENS' }) });

const Html = z.string();

function transform(direction: 'encode' | 'decode') {
  return defineOperation({
    operationId: direction === 'encode' ? 'codecEncode' : 'codecDecode',
    method: 'post',
    path: `/codec/${direction}`,
    tag: 'codec',
    summary: `${direction === 'encode' ? 'Encrypt' : 'Decrypt'} Temporal payloads (the Temporal UI's remote codec; operators only)`,
    access: 'codec',
    description:
      direction === 'encode'
        ? 'Payloads are bound to the workflow they belong to, which this endpoint is not told, so it encodes nothing: any payload is answered 422 (an empty list with an empty list). Send signals and starts with arguments through the management API.'
        : 'Without a workflow context, each payload is checked against the workflow ID bound into it. Payloads that are not encrypted are returned as they are.',
    headers: z.object({ 'X-Namespace': z.string().optional() }),
    body: { schema: CodecPayloads },
    responses: {
      200: { description: direction === 'encode' ? 'An empty list, for an empty list' : 'The payloads, decoded', schema: CodecPayloads },
      503: { description: 'The codec session could not be checked (the provider database is unreachable)', schema: Problem, contentType: PROBLEM_CONTENT_TYPE, headers: { 'Retry-After': { description: 'Seconds to wait', schema: z.number().int().min(1) } } },
    },
    problems: {
      badRequest: 'Not a payload list',
      tooLarge: 'The body is over 4 MB',
      invalidField: direction === 'encode' ? 'Payloads are not encoded here' : 'A payload under an unknown codec key, bound to another workflow, or tampered',
    },
  });
}

export const codecEncode = transform('encode');
export const codecDecode = transform('decode');

export const codecLoginPage = defineOperation({
  operationId: 'codecLoginPage',
  method: 'get',
  path: '/codec/login',
  tag: 'codec',
  summary: 'Form to start a codec session in this browser',
  access: 'public',
  responses: { 200: { description: 'HTML form', schema: Html, contentType: 'text/html' } },
});

export const codecLogin = defineOperation({
  operationId: 'codecLogin',
  method: 'post',
  path: '/codec/login',
  tag: 'codec',
  summary: 'Start an 8-hour codec session (HttpOnly cookie, Secure over HTTPS) with an operator token',
  description: 'At most 10 attempts per source address and 5 per token, then one every 6 s and 12 s respectively (per API replica). The session is kept in the provider database, so POST /codec/logout ends it on every replica.',
  access: 'public',
  body: { schema: CodecLoginForm, contentTypes: ['application/x-www-form-urlencoded'] },
  responses: {
    200: { description: 'Signed in (Set-Cookie)', schema: Html, contentType: 'text/html' },
    401: { description: 'Not an operator token', schema: Html, contentType: 'text/html' },
    429: { description: 'Too many attempts from this address or with this token', schema: Html, contentType: 'text/html', headers: { 'Retry-After': { description: 'Seconds until the next attempt', schema: z.number().int().min(1) } } },
    503: { description: 'The session cannot be stored (the provider database is unreachable)', schema: Html, contentType: 'text/html', headers: { 'Retry-After': { description: 'Seconds to wait', schema: z.number().int().min(1) } } },
  },
});

export const codecLogout = defineOperation({
  operationId: 'codecLogout',
  method: 'post',
  path: '/codec/logout',
  tag: 'codec',
  summary: 'End the codec session, server-side: the cookie is refused from then on',
  access: 'public',
  responses: {
    204: { description: 'Signed out' },
    503: { description: 'The session could not be ended (the provider database is unreachable)', schema: Problem, contentType: PROBLEM_CONTENT_TYPE, headers: { 'Retry-After': { description: 'Seconds to wait', schema: z.number().int().min(1) } } },
  },
});

export const codecOperations = [codecEncode, codecDecode, codecLoginPage, codecLogin, codecLogout];
