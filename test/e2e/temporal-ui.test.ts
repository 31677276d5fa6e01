/**
 * The operator's view: the Temporal Web UI, driven in headless Chromium (Debian's chromium with
 * playwright-core; no browser download, loopback only, background networking off), shows a
 * delivered and a failed enrollment with stage-named activities, the search attributes, and
 * payloads decoded through the provider's codec endpoint. Screenshots are kept in
 * test-results/temporal-ui/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp } from '../../src/api/app';
import { SqliteDatabase } from '../../src/activities/database/sqlite-database';
import { codecForReading } from '../../src/temporal/codec';
import { createCodecRouter } from '../../src/temporal/codec-server';
import { SqlCodecSessionStore } from '../../src/temporal/codec-sessions';
import { searchAttributes } from '../../src/workflows/definitions';
import { ensureTemporalCli } from '../../src/tools/temporal-cli';
import { projectPath } from '../../src/tools/paths';
import { apiConfig, capturingLogger, freePort, OPERATOR_TOKEN, type TestConfig } from '../helpers/api-harness';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';
import { installTestRuntime } from '../helpers/temporal';

/** In the page (page.evaluate runs in the browser): the UI keeps its data-encoder settings here. */
declare const localStorage: { setItem(key: string, value: string): void };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = projectPath('test-results', 'temporal-ui');
/** The flags a closed network needs: no background fetches, no component updates, no QUIC. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps'];

describe('Temporal Web UI (headless Chromium)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let stack: ProviderStack;
  let test: TestConfig;
  let server: Server;
  let sessions: SqlCodecSessionStore;
  let browser: Browser;
  let page: Page;
  let ui: string;
  let api: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: run npm run tools, which installs Debian's chromium (or prints the apt-get command when it may not), or set CHROMIUM_PATH`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    installTestRuntime();
    const uiPort = await freePort();
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: await ensureTemporalCli() }, ip: '127.0.0.1', ui: true, uiPort, searchAttributes: Object.values(searchAttributes), log: { format: 'json', level: 'error' } },
    });
    ui = `http://127.0.0.1:${uiPort}`;
    stack = await startProviderStack({ env });
    test = apiConfig({ taskQueue: stack.taskQueue, apiTokens: `${OPERATOR_TOKEN}:operator`, codecCorsOrigins: ui });
    sessions = new SqlCodecSessionStore(() => SqliteDatabase.open({ file: join(test.config.dataDirAbsolute, 'escrow.db'), logger: capturingLogger().logger }));
    const codecRouter = createCodecRouter({ codec: codecForReading(stack.codecKeyring), allowedOrigins: [ui], isOperator: (h) => h === `Bearer ${OPERATOR_TOKEN}`, sessions });
    const app = createApp({ client: stack.client, config: test.config, logger: capturingLogger().logger, extraRouters: [codecRouter] });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    // An operator starts a codec session once, and points the UI's data encoder at the provider.
    await page.goto(`${api}/codec/login`);
    await page.fill('input[name=token]', OPERATOR_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('text=Signed in');
    await page.goto(ui);
    await page.evaluate((endpoint) => {
      localStorage.setItem('endpoint', JSON.stringify(endpoint));
      localStorage.setItem('includeCredentials', 'true');
      localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
    }, `${api}/codec`);
  });

  after(async () => {
    await browser?.close();
    await sessions?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await stack?.stop();
    await env?.teardown();
    test?.cleanUp();
  });

  async function openWorkflow(workflowId: string, name: string): Promise<string> {
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`);
    await page.waitForSelector(`text=${workflowId}`);
    await page.waitForSelector('text=Event History');
    await page.waitForTimeout(1500); // the timeline renders after the history arrives
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-history.png`), fullPage: true });
    return page.innerText('body');
  }

  async function searchAttributesTab(name: string): Promise<string> {
    await page.click('text=Search Attributes');
    await page.waitForSelector('text=indexedFields');
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-search-attributes.png`) });
    return page.innerText('body');
  }

  it('shows a delivered enrollment: stage-named activities, decoded input, Stage="Delivered"', async () => {
    const event = enrollmentEvent({ userName: 'mkovac', deviceName: 'Mira iPhone' });
    const handle = await stack.start(event);
    await handle.result();
    const body = await openWorkflow(handle.workflowId, 'delivered');
    assert.match(body, /Completed/);
    for (const activity of ['identifyUser', 'requestCertificates', 'deliverCredentials']) {
      assert.ok(body.includes(activity), `activity ${activity} shown`);
    }
    assert.ok(body.includes(event.enrollmentUserUuid) && body.includes('"deviceName": "Mira iPhone"'), 'input decoded through the codec endpoint');
    assert.doesNotMatch(body, /Codec Server could not connect/);
    const attributes = await searchAttributesTab('delivered');
    assert.match(attributes, /"Stage": "Delivered"/);
    assert.ok(attributes.includes(`"DeviceUUID": "${event.deviceUuid}"`));
    assert.ok(attributes.includes(`"EnrollmentUserUUID": "${event.enrollmentUserUuid}"`));
  });

  it('shows a failed enrollment, and lists it under Stage="Failed"', async () => {
    const event = enrollmentEvent({ email: undefined }); // no email and no UEM directory: UserHasNoEmail
    const handle = await stack.start(event);
    await handle.result().catch(() => undefined);
    const body = await openWorkflow(handle.workflowId, 'failed');
    assert.match(body, /Failed/);
    assert.ok(body.includes('identifyUser') && body.includes('notifyFailure'), 'the failing step and the notification are shown');
    const attributes = await searchAttributesTab('failed');
    assert.match(attributes, /"Stage": "Failed"/);
    assert.match(attributes, /"Attempt": 1/);
    await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent('Stage="Failed"')}`);
    await page.waitForSelector(`text=${handle.workflowId}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'failed-list.png') });
  });
});
