/**
 * Fault: property-based fuzzing of the whole HTTP API from its own OpenAPI document with
 * schemathesis (PyPI), loopback only. Check: not_a_server_error — whatever schemathesis sends,
 * valid or not, the API never answers 5xx. Two passes: with the webhook's Basic credentials and
 * with an operator token (so both the webhook and the management API are fuzzed past their auth).
 *
 * schemathesis is installed on first use into .tools/schemathesis/venv (git-ignored) with pip
 * (src/tools/python-tool.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchStack } from '../../bench/stack';
import { ensurePythonTool } from '../../src/tools/python-tool';
import { report, SCALE, SIZES, startFaultStack } from './support';

const SCHEMATHESIS = { name: 'schemathesis', distribution: 'schemathesis', version: '4.32.5' };
const SEED = Number(process.env.FAULTS_SEED ?? 20261125);
let ST = '';

async function ensureSchemathesis(): Promise<string> {
  ST = join((await ensurePythonTool(SCHEMATHESIS)).binDir, 'st');
  return execFileSync(ST, ['--version'], { encoding: 'utf8' }).trim();
}

/** The part of schemathesis's NDJSON ScenarioFinished event this test reads. */
interface ScenarioRecorder {
  cases?: Record<string, unknown>;
  checks?: Record<string, { name: string; status: string }[]>;
  interactions?: Record<string, { response?: { status_code?: number } }>;
}

interface Pass {
  exitCode: number;
  output: string;
  /** Test cases schemathesis reports having run (from its NDJSON event stream). */
  cases: number;
  serverErrors: number;
}

function runSchemathesis(stack: BenchStack, authorization: string, label: string): Promise<Pass> {
  const reportDir = mkdtempSync(join(tmpdir(), `schemathesis-${label}-`));
  const args = [
    'run',
    `${stack.apiUrl}/openapi.json`,
    '--checks', 'not_a_server_error',
    '--max-examples', String(SIZES.schemathesisExamples),
    '--seed', String(SEED),
    '--phases', 'examples,coverage,fuzzing',
    '--workers', '1',
    '--request-timeout', '30',
    '--generation-database', 'none',
    '--header', `Authorization: ${authorization}`,
    '--report', 'ndjson',
    '--report-dir', reportDir,
    '--no-color',
    '--output-sanitize', 'true',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(ST, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false', NO_PROXY: '127.0.0.1,localhost' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      let cases = 0;
      let serverErrors = 0;
      try {
        const file = readdirSync(reportDir).find((name) => name.endsWith('.ndjson'));
        const ndjson = file ? readFileSync(join(reportDir, file), 'utf8') : '';
        for (const line of ndjson.split('\n')) {
          if (!line.trim()) continue;
          const finished = (JSON.parse(line) as { ScenarioFinished?: { recorder?: ScenarioRecorder } }).ScenarioFinished;
          if (!finished?.recorder) continue;
          cases += Object.keys(finished.recorder.cases ?? {}).length;
          // Count 5xx answers directly, and any failed not_a_server_error check besides.
          for (const interaction of Object.values(finished.recorder.interactions ?? {})) {
            if ((interaction.response?.status_code ?? 0) >= 500) serverErrors += 1;
          }
          for (const checks of Object.values(finished.recorder.checks ?? {})) {
            for (const check of checks) if (check.name === 'not_a_server_error' && check.status !== 'success') serverErrors += 1;
          }
        }
      } catch {
        // no report: the exit code and output tell the story
      }
      if (!process.env.FAULTS_KEEP_REPORTS) rmSync(reportDir, { recursive: true, force: true });
      resolve({ exitCode: code ?? 1, output, cases, serverErrors });
    });
  });
}

describe('fault: schemathesis fuzzing of the OpenAPI document', function () {
  let stack: BenchStack;
  let version: string;

  before(async () => {
    version = await ensureSchemathesis();
    // No worker: enrollments the fuzzer manages to start simply wait in Temporal.
    stack = await startFaultStack('schemathesis', { startWorker: false });
  });

  after(async () => {
    await stack?.stop();
  });

  for (const [label, authorizationOf] of [
    ['webhook credentials', (s: BenchStack) => s.webhookAuthorization],
    ['operator token', (s: BenchStack) => `Bearer ${s.credentials.operatorToken}`],
  ] as const) {
    it(`finds no server error with the ${label}`, async () => {
      const api = stack.process('api')!;
      const pass = await runSchemathesis(stack, authorizationOf(stack), label.replace(/\s+/g, '-'));
      const cases = /(\d+) generated, (\d+) passed[^\n]*/.exec(pass.output)?.[0] ?? 'no summary';
      const operations = /Tested: (\d+)/.exec(pass.output)?.[1] ?? '?';
      report({
        test: `schemathesis (${label})`,
        loadHeld: pass.cases,
        faultsSurvived: `${version.replace(/^st, version /, 'schemathesis ')}, ${operations} operations, up to ${SIZES.schemathesisExamples} examples each (${SCALE}), seed ${SEED}`,
        lost: 0,
        duplicates: 0,
        serverErrors: pass.serverErrors,
        crashes: api.running ? 0 : 1,
        testCases: cases,
      });
      assert.ok(api.running, `the API process died\n${api.recentOutput()}`);
      assert.equal(pass.serverErrors, 0, `schemathesis found server errors:\n${pass.output.slice(-6000)}`);
      assert.equal(pass.exitCode, 0, `schemathesis failed (exit ${pass.exitCode}):\n${pass.output.slice(-6000)}`);
    });
  }
});
