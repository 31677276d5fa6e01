/**
 * The generated /openapi.json: valid OpenAPI 3.1 (the official schema, through a maintained
 * validator), every schema in it valid JSON Schema 2020-12, patterns taken from the domain's
 * regexes, problem answers on the shared Problem schema, and what schemathesis needs to fuzz it.
 * Also the generator's own refusals (a route described twice, a component that reads differently
 * as request and answer).
 */
import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { z } from 'zod';
import { openApiDocument } from '../../../src/api/openapi';
import { buildOpenApiDocument } from '../../../src/api/openapi/document';
import { defineOperation, type OperationSpec } from '../../../src/api/openapi/operation';
import { UUID_PATTERN, WORKFLOW_ID_PATTERN } from '../../../src/domain/enrollment';
import { codecOperations } from '../../../src/temporal/codec-operations';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const document = openApiDocument(codecOperations) as Json;
const operations = Object.entries(document.paths as Record<string, Json>).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method, operation: operation as Json })),
);

/** Every JSON Schema object under `node` (values of `schema` keys), with its JSON pointer. */
function schemasIn(node: unknown, at: string[], found: { pointer: string; schema: Json }[] = []): { pointer: string; schema: Json }[] {
  if (!node || typeof node !== 'object') return found;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'schema' && value && typeof value === 'object') found.push({ pointer: pointer([...at, key]), schema: value as Json });
    schemasIn(value, [...at, key], found);
  }
  return found;
}

const pointer = (segments: string[]) => `#/${segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

/** Every `pattern` anywhere in the document, keyed by the property or parameter name it constrains. */
function patternsByName(): Map<string, Set<string>> {
  const byName = new Map<string, Set<string>>();
  const note = (name: string, pattern: unknown) => {
    if (typeof pattern === 'string') (byName.get(name) ?? byName.set(name, new Set()).get(name)!).add(pattern);
  };
  const walk = (node: unknown, name: string) => {
    if (Array.isArray(node)) return node.forEach((child) => walk(child, name));
    if (!node || typeof node !== 'object') return;
    const object = node as Json;
    if (typeof object.name === 'string' && object.schema) note(object.name, object.schema.pattern);
    note(name, object.pattern);
    for (const [key, value] of Object.entries(object)) {
      if (key === 'properties') for (const [property, schema] of Object.entries(value as Json)) walk(schema, property);
      else walk(value, key === 'items' || key === 'anyOf' ? name : key);
    }
  };
  walk(document, '');
  return byName;
}

describe('generated OpenAPI document', () => {
  it('is valid OpenAPI 3.1 by the official schema, with every $ref resolving', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
    assert.equal(document.openapi, '3.1.0');
    // The validator is not vacuous: a broken copy fails it.
    const broken = structuredClone(document);
    broken.paths['/healthz'].get.responses = { '200': { content: {} } }; // a response without its description
    assert.equal((await new Validator().validate(broken)).valid, false);
  });

  it('holds only valid JSON Schema 2020-12, which compiles (patterns included) against the whole document', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(document, 'openapi.json');
    const schemas = schemasIn(document.paths, ['paths']);
    for (const [name, schema] of Object.entries(document.components.schemas as Json)) schemas.push({ pointer: pointer(['components', 'schemas', name]), schema });
    assert.ok(schemas.length > 60, `only ${schemas.length} schemas found`);
    for (const { pointer: at, schema } of schemas) {
      assert.ok(ajv.validateSchema(schema), `${at}: ${ajv.errorsText(ajv.errors)}`);
      assert.doesNotThrow(() => ajv.compile({ $ref: `openapi.json${at}` }), at);
    }
  });

  it('takes its UUID and workflow-ID patterns from the domain regexes, and has no other copy of them', () => {
    const byName = patternsByName();
    for (const name of ['DeviceUUID', 'EnrollmentUserUUID', 'deviceUuid', 'enrollmentUserUuid', 'userUuid']) {
      assert.deepEqual([...(byName.get(name) ?? [])], [UUID_PATTERN.source], name);
    }
    assert.deepEqual([...(byName.get('workflowId') ?? [])], [WORKFLOW_ID_PATTERN.source]);
    const path = document.paths['/v1/enrollments/{workflowId}'].get.parameters[0];
    assert.equal(path.schema.pattern, WORKFLOW_ID_PATTERN.source);
    // Anything UUID-shaped in the document is one of the two.
    const uuidLike = [...byName.values()].flatMap((set) => [...set]).filter((p) => p.includes('{12}'));
    for (const pattern of uuidLike) assert.ok([UUID_PATTERN.source, WORKFLOW_ID_PATTERN.source].includes(pattern), `a copied pattern: ${pattern}`);
  });

  it('answers every problem with application/problem+json on the shared Problem schema, with its headers', () => {
    for (const { path, method, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        // The login form answers a person in a browser: its refusals are HTML pages.
        if (Number(status) < 400 || (path === '/codec/login' && ['401', '429', '503'].includes(status))) continue;
        assert.deepEqual(response.content, { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }, `${method} ${path} ${status}`);
        if (status === '401') assert.ok(response.headers?.['WWW-Authenticate'], `${method} ${path} 401 without WWW-Authenticate`);
        if (status === '503') assert.ok(response.headers?.['Retry-After'], `${method} ${path} 503 without Retry-After`);
        if (status === '429') assert.ok(response.headers?.['Retry-After'], `${method} ${path} 429 without Retry-After`);
      }
    }
    assert.deepEqual(document.components.schemas.Problem.required, ['type', 'title', 'status']);
  });

  it('gives schemathesis what it needs: relative server, declared security schemes, content types, an id per operation', () => {
    // No absolute server: clients (and schemathesis) call the API where they loaded the document from.
    assert.ok(!document.servers || document.servers.every((s: Json) => String(s.url).startsWith('/')));
    const schemes = Object.keys(document.components.securitySchemes);
    assert.deepEqual(schemes.sort(), ['bearer', 'codecSession', 'uemBasic']);
    const ids = new Set<string>();
    for (const { path, method, operation } of operations) {
      assert.ok(typeof operation.operationId === 'string' && !ids.has(operation.operationId), `${method} ${path}: operationId`);
      ids.add(operation.operationId);
      assert.ok(Array.isArray(operation.security), `${method} ${path}: security`);
      for (const requirement of operation.security) for (const scheme of Object.keys(requirement)) assert.ok(schemes.includes(scheme), scheme);
      const authenticated = operation.security.length > 0;
      assert.equal(Boolean(operation.responses['401']), authenticated || (method === 'post' && path === '/codec/login'), `${method} ${path}: 401 iff it needs credentials`);
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        if (status !== '204') assert.ok(response.content && Object.keys(response.content).length > 0, `${method} ${path} ${status}: content type`);
      }
    }
    assert.deepEqual(Object.keys(document.paths['/webhooks/uem'].post.requestBody.content), ['application/json', 'application/xml']);
    assert.equal(operations.length, 30);
  });

  describe('generator', () => {
    const info = { title: 't', version: '0', description: 'd' };
    const ping = (id: string, path: `/${string}` = '/ping'): OperationSpec =>
      defineOperation({ operationId: id, method: 'get', path, tag: 'meta', summary: 's', access: 'public', responses: { 200: { description: 'ok' } } });

    it('refuses a route or an operationId described twice', () => {
      assert.throws(() => buildOpenApiDocument(info, [ping('a'), ping('b')]), /GET \/ping is described twice/);
      assert.throws(() => buildOpenApiDocument(info, [ping('a'), ping('a', '/other')]), /operationId a is used twice/);
    });

    it('refuses a component that reads differently as a request and as an answer', () => {
      const Thing = z.object({ size: z.number().default(1) }).meta({ id: 'TestThing' });
      const operation = defineOperation({
        operationId: 'putThing',
        method: 'post',
        path: '/thing',
        tag: 'meta',
        summary: 's',
        access: 'public',
        body: { schema: Thing },
        responses: { 200: { description: 'ok', schema: Thing } },
      });
      assert.throws(() => buildOpenApiDocument(info, [operation]), /TestThing differs as a request and as an answer/);
    });

    it('refuses two answers for one status (a problem and a success)', () => {
      const operation = defineOperation({ ...ping('x'), responses: { 404: { description: 'gone' } }, problems: { notFound: 'no such thing' } });
      assert.throws(() => buildOpenApiDocument(info, [operation]), /two answers for status 404/);
    });

    it('lists a new operation with its parameters, body, answers and implied auth problems', () => {
      const operation = defineOperation({
        operationId: 'cancelRenewal',
        method: 'post',
        path: '/v1/renewals/{renewalId}/cancel',
        tag: 'management',
        summary: 'Cancel a renewal',
        access: 'operator',
        params: z.object({ renewalId: z.string().regex(/^renewal-[0-9a-f]{8}$/) }),
        body: { schema: z.strictObject({ reason: z.string().min(1) }), required: false },
        responses: { 202: { description: 'Accepted', schema: z.object({ renewalId: z.string() }) } },
        problems: { notFound: 'No such renewal' },
      });
      const built = buildOpenApiDocument(info, [operation]) as Json;
      const described = built.paths['/v1/renewals/{renewalId}/cancel'].post;
      assert.deepEqual(described.security, [{ bearer: ['operator'] }]);
      assert.deepEqual(Object.keys(described.responses), ['202', '401', '403', '404', '429']);
      assert.ok(described.responses['429'].headers['Retry-After'], 'a rate-limited answer says when to come back');
      assert.equal(described.parameters[0].schema.pattern, '^renewal-[0-9a-f]{8}$');
      assert.equal(described.requestBody.required, false);
      assert.ok(built.components.schemas.Problem);
    });
  });
});
