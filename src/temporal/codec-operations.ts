/**
 * The codec endpoints' operations and shapes (see codec-server.ts), listed in the API's
 * /openapi.json beside its own. The router validates requests with these schemas.
 */
import { z } from 'zod';
import { defineOperation } from '../api/openapi/operation';

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
    headers: z.object({ 'X-Namespace': z.string().optional() }),
    body: { schema: CodecPayloads },
    responses: { 200: { description: 'The payloads, transformed', schema: CodecPayloads } },
    problems: { badRequest: 'Not a payload list', tooLarge: 'The body is over 4 MB', invalidField: 'A payload under an unknown codec key, or tampered' },
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
  summary: 'Start an 8-hour codec session (HttpOnly cookie) with an operator token',
  access: 'public',
  body: { schema: CodecLoginForm, contentTypes: ['application/x-www-form-urlencoded'] },
  responses: {
    200: { description: 'Signed in (Set-Cookie)', schema: Html, contentType: 'text/html' },
    401: { description: 'Not an operator token', schema: Html, contentType: 'text/html' },
  },
});

export const codecLogout = defineOperation({
  operationId: 'codecLogout',
  method: 'post',
  path: '/codec/logout',
  tag: 'codec',
  summary: 'End the codec session',
  access: 'public',
  responses: { 204: { description: 'Signed out' } },
});

export const codecOperations = [codecEncode, codecDecode, codecLoginPage, codecLogin, codecLogout];
