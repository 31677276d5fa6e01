/**
 * Checks that keep /openapi.json honest: the express routes the app really registers, and a
 * validator for real responses against the document's schemas (ajv, JSON Schema 2020-12, which
 * is what OpenAPI 3.1 uses).
 */
import assert from 'node:assert/strict';
import type express from 'express';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { HttpAnswer } from '../../helpers/api-harness';

export interface RegisteredRoute {
  method: string;
  /** In OpenAPI form: /v1/enrollments/{workflowId}. */
  path: string;
}

interface Layer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every method+path the app's router (and its mounted routers) answers, `all` catch-alls excluded. */
export function registeredRoutes(app: express.Express): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') routes.push({ method, path: toOpenApiPath(`${prefix}${String(layer.route.path)}`) });
        }
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, `${prefix}${mount}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes;
}

function toOpenApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}');
}

type Document = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };

export class OpenApiConformance {
  private readonly ajv: Ajv2020;
  private readonly templates: { template: string; pattern: RegExp }[];
  /** Operations and statuses seen, for a coverage check. */
  readonly checked = new Set<string>();

  constructor(private readonly document: Document) {
    this.ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(document as object, 'openapi.json');
    this.templates = Object.keys(document.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
  }

  /** Fails unless the answer's status and body are what the document promises for this operation. */
  assertConforms(method: string, url: string, answer: HttpAnswer): void {
    const path = new URL(url, 'http://x').pathname;
    const found = this.templates.find((t) => t.pattern.test(path));
    assert.ok(found, `${path} is not in the OpenAPI document`);
    const operation = this.document.paths[found.template]![method.toLowerCase()];
    assert.ok(operation, `${method} ${found.template} is not in the OpenAPI document`);
    const response = operation.responses[String(answer.status)];
    assert.ok(response, `${method} ${found.template}: status ${answer.status} is not documented (body: ${answer.text.slice(0, 300)})`);
    const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (!response.content) return;
    assert.ok(response.content[mediaType], `${method} ${found.template} ${answer.status}: content type ${mediaType} is not documented`);
    this.checked.add(`${method.toUpperCase()} ${found.template} ${answer.status}`);
    if (!mediaType.endsWith('json')) return;
    const pointer = ['paths', found.template, method.toLowerCase(), 'responses', String(answer.status), 'content', mediaType, 'schema']
      .map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1'))
      .join('/');
    const validate = this.ajv.compile({ $ref: `openapi.json#/${pointer}` });
    assert.ok(validate(answer.json), `${method} ${found.template} ${answer.status}: ${this.ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 1000)}`);
  }
}
