/**
 * Fault: hostile input. Over a thousand generated requests to the UEM webhook — malformed JSON and
 * XML, huge and deep documents, wrong types, XML entity tricks, odd Unicode, compression bombs,
 * wrong methods, content types and credentials — must give 0 server errors, 0 crashes, 0 workflows
 * started and 0 outbound requests from entity or include tricks (a canary HTTP server counts them).
 */
import assert from 'node:assert/strict';
import { createServer, request, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchStack } from '../../bench/stack';
import { WORKFLOW_TYPE } from '../../src/workflows/definitions';
import { hostileRequests, type HostileRequest } from './hostile-bodies';
import { report, SIZES, startFaultStack } from './support';

const SEED = Number(process.env.FAULTS_SEED ?? 20261125);

interface Answer {
  status: number | 'network';
  ms: number;
}

function send(agent: Agent, port: number, path: string, hostile: HostileRequest): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: hostile.method, agent, headers: { ...hostile.headers, 'Content-Length': String(hostile.body.length) }, timeout: 30_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
        res.on('error', () => resolve({ status: 'network', ms: performance.now() - started }));
      },
    );
    // The server may answer 413 and close before it has read a huge body: that is an answer, not a failure.
    req.on('error', () => resolve({ status: 'network', ms: performance.now() - started }));
    req.on('timeout', () => req.destroy());
    req.end(hostile.body);
  });
}

describe('fault: hostile input at the UEM webhook', function () {
  let stack: BenchStack;
  let canary: Server;
  const canaryHits: string[] = [];

  before(async () => {
    canary = createServer((req, res) => {
      canaryHits.push(`${req.method} ${req.url}`);
      res.end('<!ENTITY x "pwned">');
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    // No worker: nothing may start, and anything that did would stay visible as Running.
    stack = await startFaultStack('hostile', { startWorker: false });
  });

  after(async () => {
    await stack?.stop();
    await new Promise<void>((resolve) => canary?.close(() => resolve()));
  });

  it(`answers ${SIZES.hostileBodies}+ hostile requests without a 5xx, a crash, a workflow or an outbound request`, async () => {
    const { credentials } = stack;
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
    const right = `${credentials.webhookUser}:${credentials.webhookPassword}`;
    const wrongAuthorizations = [
      '',
      'Basic ',
      'Basic',
      `Basic ${b64(`${credentials.webhookUser}:wrong-password`)}`,
      `Basic ${b64(`intruder:${credentials.webhookPassword}`)}`,
      `Basic ${b64(`${right}x`)}`,
      `Basic ${b64(`${credentials.webhookUser}:`)}`,
      `Basic ${b64(credentials.webhookUser)}`,
      `Basic ${b64(`:${credentials.webhookPassword}`)}`,
      'Basic !!!not-base64!!!',
      `Basic ${b64(right).toLowerCase()}`,
      `Basic ${b64(right)} trailing`,
      `basic ${b64(`${credentials.webhookUser}:nope`)}`,
      `Bearer ${credentials.operatorToken}`,
      `Bearer ${credentials.viewerToken}`,
      `Digest username="${credentials.webhookUser}"`,
      `Basic ${'A'.repeat(6000)}`,
      `Basic ${b64('ü:ñ')}`,
      `Basic ${b64(`${credentials.webhookUser}:${credentials.webhookPassword.toUpperCase()}`)}`,
      `Basic ${b64(`${credentials.uemApiUser}:${credentials.uemApiPassword}`)}`,
    ];
    const canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;
    const requests = hostileRequests({ authorization: `Basic ${b64(right)}`, wrongAuthorizations, ssrfUrl: canaryUrl, seed: SEED, count: SIZES.hostileBodies });
    assert.ok(requests.length >= 1000, `at least 1000 requests (got ${requests.length})`);

    const api = stack.process('api')!;
    const apiPid = api.pid;
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const byStatus = new Map<string, number>();
    const serverErrors: string[] = [];
    let slowest = 0;
    let index = 0;
    const lanes = Array.from({ length: 8 }, async () => {
      while (index < requests.length) {
        const hostile = requests[index++]!;
        const answer = await send(agent, stack.ports.api, '/webhooks/uem', hostile);
        byStatus.set(String(answer.status), (byStatus.get(String(answer.status)) ?? 0) + 1);
        slowest = Math.max(slowest, answer.ms);
        if (typeof answer.status === 'number' && answer.status >= 500) serverErrors.push(`${hostile.category}: ${hostile.name} → ${answer.status}`);
        assert.ok(api.running, `the API process died at ${hostile.category}: ${hostile.name}\n${api.recentOutput()}`);
      }
    });
    await Promise.all(lanes);
    agent.destroy();

    const health = await fetch(`${stack.apiUrl}/healthz`);
    const client = await stack.client();
    const workflows = await client.workflow.count(`WorkflowType = '${WORKFLOW_TYPE}'`);
    const usage = stack.process('api')!.usage();
    report({
      test: 'hostile input',
      loadHeld: requests.length,
      faultsSurvived: `${new Set(requests.map((r) => r.category)).size} categories (seed ${SEED})`,
      lost: 0,
      duplicates: 0,
      answers: [...byStatus.entries()].sort().map(([status, n]) => `${status}×${n}`).join(' '),
      serverErrors: serverErrors.length,
      crashes: api.running && api.pid === apiPid ? 0 : 1,
      workflowsStarted: workflows.count,
      outboundRequests: canaryHits.length,
      slowestMs: Math.round(slowest),
      apiPeakMemory: `${Math.round((usage?.peakRssBytes ?? 0) / 1_048_576)} MiB`,
    });
    assert.deepEqual(serverErrors, [], 'no request got a 5xx');
    assert.equal(health.status, 200, 'the API still answers /healthz');
    assert.equal(api.pid, apiPid, 'the API process is the one that started');
    assert.equal(workflows.count, 0, 'no workflow was started');
    assert.deepEqual(canaryHits, [], 'no entity, DTD or include made the API fetch anything');
  });
});
