/**
 * OpenAPI 3.1 from the operation list, with zod's own JSON Schema output (draft 2020-12, the
 * dialect OpenAPI 3.1 uses). Requests are converted as zod *inputs* (what a client may send:
 * before transforms and defaults), answers as *outputs*. Schemas with a `meta({ id })` become
 * components and are referenced; everything else is inlined where it is used.
 */
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from '../problem';
import { Problem } from '../schemas/common';
import { ACCESS, PROBLEM_HEADERS, problemsOf, type HeaderSpec, type OperationSpec, type Tag } from './operation';

type Json = Record<string, unknown>;

export interface DocumentInfo {
  title: string;
  version: string;
  description: string;
}

const TAGS: Record<Tag, string> = {
  webhook: 'Called by Workspace ONE UEM (HTTP Basic, UEM_WEBHOOK_USERS)',
  management: 'Bearer tokens from API_TOKENS: viewer reads, operator also acts',
  meta: 'Unauthenticated',
  codec: 'Remote payload codec for the Temporal UI: operator token or codec session',
};

const SECURITY_SCHEMES = {
  uemBasic: { type: 'http', scheme: 'basic', description: 'A user:password pair from UEM_WEBHOOK_USERS' },
  bearer: { type: 'http', scheme: 'bearer', description: 'A token from API_TOKENS; its role (viewer, operator) decides what it may do' },
  codecSession: { type: 'apiKey', in: 'cookie', name: 'smime_codec_session', description: 'Session from POST /codec/login (operator token)' },
};

const COMPONENT_PREFIX = '#/components/schemas/';

export function buildOpenApiDocument(info: DocumentInfo, operations: readonly OperationSpec[]): Json {
  checkUnique(operations);
  const inputs = new SchemaSet('input');
  const outputs = new SchemaSet('output');
  outputs.add(Problem); // every problem answer refers to it
  for (const operation of operations) {
    for (const schema of requestSchemas(operation)) inputs.add(schema);
    for (const schema of answerSchemas(operation)) outputs.add(schema);
  }
  inputs.convert();
  outputs.convert();

  const paths: Record<string, Record<string, Json>> = {};
  for (const operation of operations) (paths[operation.path] ??= {})[operation.method] = operationObject(operation, inputs, outputs);
  return {
    openapi: '3.1.0',
    info,
    tags: (Object.keys(TAGS) as Tag[]).filter((tag) => operations.some((o) => o.tag === tag)).map((name) => ({ name, description: TAGS[name] })),
    paths,
    components: { schemas: mergeComponents(inputs.components, outputs.components), securitySchemes: SECURITY_SCHEMES },
  };
}

function requestSchemas(operation: OperationSpec): z.ZodType[] {
  return [operation.params, operation.query, operation.headers, operation.body?.schema].filter((s): s is z.ZodType => s !== undefined);
}

function answerSchemas(operation: OperationSpec): z.ZodType[] {
  const headers = (specs: Record<string, HeaderSpec> | undefined) => Object.values(specs ?? {}).map((h) => h.schema);
  return [
    ...Object.values(operation.responses).flatMap((r) => [...(r.schema ? [r.schema] : []), ...headers(r.headers)]),
    ...[...problemsOf(operation).values()].flatMap(({ kind }) => headers(PROBLEM_HEADERS[kind])),
  ];
}

function operationObject(operation: OperationSpec, inputs: SchemaSet, outputs: SchemaSet): Json {
  const headerObjects = (specs: Record<string, HeaderSpec> | undefined) =>
    specs && Object.keys(specs).length > 0
      ? {
          headers: Object.fromEntries(
            Object.entries(specs).map(([name, h]) => [name, { ...(h.description ? { description: h.description } : {}), schema: outputs.json(h.schema) }]),
          ),
        }
      : {};
  const responses: [number, Json][] = [
    ...Object.entries(operation.responses).map(([status, spec]): [number, Json] => [
      Number(status),
      {
        description: spec.description,
        ...headerObjects(spec.headers),
        ...(spec.schema ? { content: { [spec.contentType ?? 'application/json']: { schema: outputs.json(spec.schema) } } } : {}),
      },
    ]),
    ...[...problemsOf(operation)].map(([status, { kind, description }]): [number, Json] => [
      status,
      { description, ...headerObjects(PROBLEM_HEADERS[kind]), content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${COMPONENT_PREFIX}Problem` } } } },
    ]),
  ].sort(([a], [b]) => a - b);
  const parameters = [
    ...(operation.params ? parametersOf(inputs.json(operation.params), 'path') : []),
    ...(operation.query ? parametersOf(inputs.json(operation.query), 'query') : []),
    ...(operation.headers ? parametersOf(inputs.json(operation.headers), 'header') : []),
  ];
  const { body } = operation;
  return {
    operationId: operation.operationId,
    tags: [operation.tag],
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    security: ACCESS[operation.access].security,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body
      ? {
          requestBody: {
            required: body.required ?? true,
            ...(body.description ? { description: body.description } : {}),
            content: Object.fromEntries((body.contentTypes ?? ['application/json']).map((type) => [type, { schema: inputs.json(body.schema) }])),
          },
        }
      : {}),
    responses: Object.fromEntries(responses.map(([status, response]) => [String(status), response])),
  };
}

/** An object schema's properties as OpenAPI parameters; a property's description moves up to the parameter. */
function parametersOf(schema: Json, location: string): Json[] {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

/**
 * The schemas of one direction, converted in a single pass (zod converts one root at a time):
 * each becomes a property of a synthetic object, so shared components come out once, in `$defs`.
 */
class SchemaSet {
  private readonly schemas: z.ZodType[] = [];
  private converted?: { properties: Record<string, Json>; components: Record<string, Json> };
  constructor(private readonly io: 'input' | 'output') {}

  add(schema: z.ZodType): void {
    if (this.converted) throw new Error('add every schema before converting');
    if (!this.schemas.includes(schema)) this.schemas.push(schema);
  }

  convert(): void {
    const root = z.object(Object.fromEntries(this.schemas.map((schema, index) => [`s${index}`, schema])));
    const json = toComponentRefs(z.toJSONSchema(root, { io: this.io, target: 'draft-2020-12', unrepresentable: 'throw' })) as Json;
    this.converted = { properties: json.properties as Record<string, Json>, components: (json.$defs ?? {}) as Record<string, Json> };
  }

  json(schema: z.ZodType): Json {
    const index = this.schemas.indexOf(schema);
    if (!this.converted || index < 0) throw new Error('schema was not added before converting');
    return this.converted.properties[`s${index}`]!;
  }

  get components(): Record<string, Json> {
    if (!this.converted) throw new Error('not converted yet');
    return this.converted.components;
  }
}

/** zod writes `#/$defs/Name`; in the document the definitions live under components. */
function toComponentRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toComponentRefs);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#/$defs/') ? `${COMPONENT_PREFIX}${value.slice('#/$defs/'.length)}` : toComponentRefs(value),
    ]),
  );
}

/** A component used by requests and answers alike must read the same both ways; else it needs two ids. */
function mergeComponents(input: Record<string, Json>, output: Record<string, Json>): Record<string, Json> {
  for (const [name, schema] of Object.entries(input)) {
    if (output[name] && JSON.stringify(output[name]) !== JSON.stringify(schema)) {
      throw new Error(`schema ${name} differs as a request and as an answer (a default, transform or open object): give each form its own id`);
    }
  }
  const merged = { ...input, ...output };
  return Object.fromEntries(Object.keys(merged).sort().map((name) => [name, merged[name]!]));
}

function checkUnique(operations: readonly OperationSpec[]): void {
  const ids = new Set<string>();
  const routes = new Set<string>();
  for (const { operationId, method, path } of operations) {
    if (ids.has(operationId)) throw new Error(`operationId ${operationId} is used twice`);
    if (routes.has(`${method} ${path}`)) throw new Error(`${method.toUpperCase()} ${path} is described twice`);
    ids.add(operationId);
    routes.add(`${method} ${path}`);
  }
}
