/**
 * Hostile requests for the UEM webhook, generated from a seed so a failure can be replayed:
 * malformed JSON and XML, huge and deeply nested documents, wrong types, XML entity tricks,
 * odd Unicode, compression bombs, wrong methods and content types, and wrong credentials.
 *
 * None of them may start a workflow. Every request that carries the right credentials also breaks
 * something the webhook requires (syntax, the event type, a UUID, EventTime), or is an event type
 * the provider ignores; a request whose body is a valid enrollment carries wrong credentials.
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface HostileRequest {
  category: string;
  name: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** mulberry32: small, fast, good enough to pick mutations reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';
const XML_TYPE = 'application/xml; charset=utf-8';

/** A UEM enrollment event as a tenant sends it (valid: only ever sent with wrong credentials). */
function validFields(): Record<string, unknown> {
  return {
    EventId: 148,
    EventType: 'MDM Enrollment Complete',
    DeviceId: 4211,
    DeviceFriendlyName: 'Hostile iPhone',
    EnrollmentEmailAddress: 'hostile@example.test',
    EnrollmentUserName: 'hostile',
    EventTime: '2026-11-20T09:14:03.5530000Z',
    EnrollmentStatus: 'Enrolled',
    EnrollmentUserId: 318,
    Platform: 'Apple',
    OperatingSystem: '17.5',
    OrganizationGroupName: 'Hostile OG',
    DeviceUUID: randomUUID(),
    EnrollmentUserUUID: randomUUID(),
  };
}

/** The same event with a DeviceUUID the webhook must refuse: the safety net under every mutation. */
function brokenFields(): Record<string, unknown> {
  return { ...validFields(), DeviceUUID: 'not-a-device-uuid' };
}

function xmlOf(fields: Record<string, unknown>, root = 'Eventlog'): string {
  const elements = Object.entries(fields).map(([k, v]) => `  <${k}>${String(v)}</${k}>`);
  return `<?xml version="1.0" encoding="utf-8"?>\n<${root}>\n${elements.join('\n')}\n</${root}>\n`;
}

export function hostileRequests(options: { authorization: string; wrongAuthorizations: string[]; ssrfUrl: string; seed: number; count: number }): HostileRequest[] {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const auth = { Authorization: options.authorization };
  const out: HostileRequest[] = [];
  const add = (category: string, name: string, body: Buffer | string, headers: Record<string, string> = {}, method = 'POST') =>
    out.push({ category, name, method, headers: { ...auth, ...headers }, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') });

  const brokenJson = JSON.stringify(brokenFields());
  const brokenXml = xmlOf(brokenFields());

  // --- malformed JSON: every kind of syntax damage -------------------------------------------
  for (let i = 0; i < 150; i++) {
    const cut = 1 + Math.floor(random() * (brokenJson.length - 2));
    add('malformed-json', `truncated at ${cut}`, brokenJson.slice(0, cut), { 'Content-Type': JSON_TYPE });
  }
  for (let i = 0; i < 120; i++) {
    const bytes = Buffer.from(brokenJson, 'utf8');
    const flips = 1 + Math.floor(random() * 4);
    for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    add('malformed-json', `${flips} random bytes`, bytes, { 'Content-Type': JSON_TYPE });
  }
  const jsonVariants: [string, string][] = [
    ['trailing comma', brokenJson.replace(/}$/, ',}')],
    ['single quotes', brokenJson.replace(/"/g, "'")],
    ['comments', `// UEM\n${brokenJson}`],
    ['NaN value', brokenJson.replace('"EventId":148', '"EventId":NaN')],
    ['Infinity value', brokenJson.replace('"EventId":148', '"EventId":Infinity')],
    ['two documents', `${brokenJson}${brokenJson}`],
    ['trailing garbage', `${brokenJson}garbage`],
    ['unquoted keys', brokenJson.replace(/"(\w+)":/g, '$1:')],
    ['empty object', '{}'],
    ['whitespace only', '   \n\t  '],
    ['empty body', ''],
    ['null', 'null'],
    ['true', 'true'],
    ['number', '42'],
    ['string', '"MDM Enrollment Complete"'],
    ['array of events', `[${JSON.stringify(validFields())}]`],
    ['nested Eventlog array', `{"Eventlog":[${JSON.stringify(validFields())}]}`],
    ['duplicate keys, both broken', brokenJson.replace('{', '{"DeviceUUID":"also-not-a-uuid",')],
    ['hex escapes', brokenJson.replace('"EventType"', '"\\x45ventType"')],
    ['unterminated escape', brokenJson.replace('Hostile iPhone', 'Hostile \\')],
  ];
  for (const [name, body] of jsonVariants) add('malformed-json', name, body, { 'Content-Type': JSON_TYPE });

  // --- malformed XML ---------------------------------------------------------------------------
  for (let i = 0; i < 150; i++) {
    const cut = 1 + Math.floor(random() * (brokenXml.length - 2));
    add('malformed-xml', `truncated at ${cut}`, brokenXml.slice(0, cut), { 'Content-Type': XML_TYPE });
  }
  for (let i = 0; i < 80; i++) {
    const bytes = Buffer.from(brokenXml, 'utf8');
    const flips = 1 + Math.floor(random() * 4);
    for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = pick([0x3c, 0x3e, 0x26, 0x2f, 0x22, 0x00, 0xff, Math.floor(random() * 256)]);
    add('malformed-xml', `${flips} damaged bytes`, bytes, { 'Content-Type': XML_TYPE });
  }
  const xmlVariants: [string, string][] = [
    ['mismatched tags', brokenXml.replace('</Platform>', '</Platfrom>')],
    ['unclosed root', brokenXml.replace('</Eventlog>', '')],
    ['two roots', `${brokenXml}<Eventlog/>`],
    ['text outside root', `${brokenXml}trailing text`],
    ['wrong root', xmlOf(validFields(), 'EventLogs')],
    ['no root', '<?xml version="1.0"?>'],
    ['attributes only', `<Eventlog EventType="MDM Enrollment Complete" DeviceUUID="${randomUUID()}" EnrollmentUserUUID="${randomUUID()}" EventTime="2026-11-20T09:14:03Z"/>`],
    ['CDATA UUID (broken)', brokenXml.replace('<DeviceUUID>not-a-device-uuid</DeviceUUID>', '<DeviceUUID><![CDATA[not-a-device-uuid]]></DeviceUUID>')],
    ['processing instruction', brokenXml.replace('<Eventlog>', '<?php system("id"); ?><Eventlog>')],
    ['comment in value', brokenXml.replace('Hostile iPhone', 'Hostile <!-- x --> iPhone')],
    ['namespace prefix', brokenXml.replace(/<(\/?)(\w+)>/g, '<$1u:$2>').replace('<u:Eventlog>', '<u:Eventlog xmlns:u="urn:uem">')],
    ['undeclared entity', brokenXml.replace('Hostile iPhone', '&hostile;')],
    ['numeric references to a broken UUID', brokenXml.replace('not-a-device-uuid', '&#110;&#111;&#116;-&#x61;-uuid')],
    ['reference to NUL', brokenXml.replace('Hostile iPhone', '&#0;')],
    ['reference beyond Unicode', brokenXml.replace('Hostile iPhone', '&#x110000;')],
    ['encoding declared UTF-16', brokenXml.replace('encoding="utf-8"', 'encoding="UTF-16"')],
    ['self-closing event type', brokenXml.replace(/<EventType>[^<]*<\/EventType>/, '<EventType/>')],
  ];
  for (const [name, body] of xmlVariants) add('malformed-xml', name, body, { 'Content-Type': XML_TYPE });

  // --- entity tricks (each with a valid enrollment inside: only the DTD machinery is wrong) ----
  const inner = Object.entries(validFields()).map(([k, v]) => `<${k}>${String(v)}</${k}>`).join('');
  const entityTricks: [string, string][] = [
    ['billion laughs', `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('')}]><Eventlog>${inner}<DeviceFriendlyName>&lol9;</DeviceFriendlyName></Eventlog>`],
    ['quadratic blowup', `<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "${'a'.repeat(20_000)}">]><Eventlog>${inner}<DeviceFriendlyName>${'&a;'.repeat(5000)}</DeviceFriendlyName></Eventlog>`],
    ['external entity (file)', `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Eventlog>${inner}<DeviceFriendlyName>&xxe;</DeviceFriendlyName></Eventlog>`],
    ['external entity (SSRF canary)', `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "${options.ssrfUrl}/entity">]><Eventlog>${inner}<DeviceFriendlyName>&xxe;</DeviceFriendlyName></Eventlog>`],
    ['parameter entity (SSRF canary)', `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY % p SYSTEM "${options.ssrfUrl}/parameter"> %p;]><Eventlog>${inner}</Eventlog>`],
    ['external DTD (SSRF canary)', `<?xml version="1.0"?><!DOCTYPE Eventlog SYSTEM "${options.ssrfUrl}/dtd"><Eventlog>${inner}</Eventlog>`],
    ['lowercase doctype', `<?xml version="1.0"?><!doctype e [<!entity a "b">]><Eventlog>${inner}</Eventlog>`],
    ['entity declared after whitespace tricks', `<?xml version="1.0"?>\n<!DOCTYPE\te\n[\n<!ENTITY\ta\t"b">\n]>\n<Eventlog>${inner}</Eventlog>`],
    ['XInclude (SSRF canary)', `<?xml version="1.0"?><Eventlog xmlns:xi="http://www.w3.org/2001/XInclude">${inner.replace('<DeviceUUID>', '<DeviceUUIDx>').replace('</DeviceUUID>', '</DeviceUUIDx>')}<DeviceUUID><xi:include href="${options.ssrfUrl}/xinclude" parse="text"/></DeviceUUID></Eventlog>`],
    ['xml-stylesheet (SSRF canary)', `<?xml version="1.0"?><?xml-stylesheet href="${options.ssrfUrl}/xsl"?><Eventlog>${inner.replace(/<DeviceUUID>[^<]*<\/DeviceUUID>/, '<DeviceUUID>broken</DeviceUUID>')}</Eventlog>`],
  ];
  for (const [name, body] of entityTricks) add('entity-tricks', name, body, { 'Content-Type': XML_TYPE });

  // --- huge and deep ---------------------------------------------------------------------------
  const big = (bytes: number) => `{"EventType":"MDM Enrollment Complete","DeviceUUID":"x","Pad":"${'A'.repeat(bytes)}"}`;
  add('huge', '64 KiB + 1 byte', big(64 * 1024 + 1), { 'Content-Type': JSON_TYPE });
  add('huge', 'just under 64 KiB', big(64 * 1024 - 200), { 'Content-Type': JSON_TYPE });
  add('huge', '1 MiB', big(1024 * 1024), { 'Content-Type': JSON_TYPE });
  add('huge', '8 MiB', big(8 * 1024 * 1024), { 'Content-Type': JSON_TYPE });
  add('huge', '10,000 fields', `{${Array.from({ length: 5000 }, (_, i) => `"f${i}":${i}`).join(',')},"EventType":"MDM Enrollment Complete","DeviceUUID":"x"}`, { 'Content-Type': JSON_TYPE });
  add('huge', 'XML 8 MiB', `<Eventlog><Pad>${'A'.repeat(8 * 1024 * 1024)}</Pad></Eventlog>`, { 'Content-Type': XML_TYPE });
  add('huge', 'gzip bomb (16 MiB of zeros)', gzipSync(Buffer.alloc(16 * 1024 * 1024)), { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip' });
  add('huge', 'gzip of garbage', Buffer.from('this is not gzip at all'), { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip' });
  add('huge', 'deflate bomb', gzipSync(Buffer.alloc(4 * 1024 * 1024, '{')), { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip' });
  add('huge', 'unknown content encoding', brokenJson, { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'br, zstd, x-unknown' });
  for (const depth of [1_000, 10_000, 30_000]) {
    add('deep', `JSON arrays ${depth} deep`, `${'['.repeat(depth)}${']'.repeat(depth)}`, { 'Content-Type': JSON_TYPE });
    add('deep', `JSON objects ${depth} deep`, `${'{"a":'.repeat(Math.floor(depth / 3))}1${'}'.repeat(Math.floor(depth / 3))}`, { 'Content-Type': JSON_TYPE });
    add('deep', `JSON event field ${depth} deep`, `{"EventType":"MDM Enrollment Complete","DeviceUUID":${'['.repeat(Math.floor(depth / 2))}${']'.repeat(Math.floor(depth / 2))}}`, { 'Content-Type': JSON_TYPE });
  }
  for (const depth of [1_000, 5_000, 7_000]) {
    add('deep', `XML ${depth} deep`, `<Eventlog>${'<a>'.repeat(depth)}x${'</a>'.repeat(depth)}</Eventlog>`, { 'Content-Type': XML_TYPE });
    add('deep', `XML ${depth} deep, unclosed`, `<Eventlog>${'<a>'.repeat(depth)}`, { 'Content-Type': XML_TYPE });
  }

  // --- wrong types: the required fields as everything but a string -------------------------------
  const wrongValues: unknown[] = [null, true, 0, -1, 1e308, [], [randomUUID()], {}, { uuid: randomUUID() }, '', ' ', 'null', 'undefined', '{}'];
  for (const field of ['DeviceUUID', 'EnrollmentUserUUID', 'EventType', 'EventTime']) {
    for (const value of wrongValues) {
      const fields = { ...validFields(), [field]: value };
      // A wrong EventType or EventTime leaves the UUIDs valid: break one too, so nothing can start.
      if (field === 'EventType' || field === 'EventTime') fields.DeviceUUID = 12345;
      add('wrong-types', `${field} = ${JSON.stringify(value)}`, JSON.stringify(fields), { 'Content-Type': JSON_TYPE });
    }
  }
  // EventTime is parsed for unenrollments too, which can never start a workflow (at most they
  // find nothing to cancel): the parser sees each odd value with valid UUIDs around it.
  const timeValues = ['', 'yesterday', '2026-13-45T99:99:99Z', '/Date(abc)/', '/Date(99999999999999999999)/', '/Date(-62135596800001)/', '0000-00-00T00:00:00Z', '9999-12-31T23:59:59.9999999Z', '2026-11-20T09:14:03.5530000+99:00', '2026-11-20T09:14:03.55300000000000000000000Z', `${'9'.repeat(400)}`, '\u0000', 'P1D'];
  for (const value of timeValues) add('wrong-types', `EventTime "${value.slice(0, 30)}" (wipe)`, JSON.stringify({ ...validFields(), EventType: 'Enterprise Wipe', EventTime: value }), { 'Content-Type': JSON_TYPE });
  for (const value of [null, [], {}, 'x'.repeat(60_000)]) {
    add('wrong-types', `tolerated fields as ${JSON.stringify(value)?.slice(0, 20)}`, JSON.stringify({ ...brokenFields(), DeviceId: value, EnrollmentUserId: value, EnrollmentEmailAddress: value, Platform: value }), { 'Content-Type': JSON_TYPE });
  }
  for (const type of ['Device Compliance Changed', '', '   ', 'MDM Enrollment Completed!', 'mdm_enrollment_complete_v2', '💥']) {
    add('wrong-types', `event type "${type}"`, JSON.stringify({ ...brokenFields(), EventType: type }), { 'Content-Type': JSON_TYPE });
  }

  // --- odd Unicode -----------------------------------------------------------------------------
  const uuid = randomUUID();
  const homoglyphs: [string, string][] = [
    ['Cyrillic а in the UUID', uuid.replace(/a/, 'а').replace(/^([0-9b-f])/, 'а')],
    ['fullwidth digits in the UUID', uuid.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)))],
    ['zero-width space in the UUID', `${uuid.slice(0, 8)}\u200b${uuid.slice(8)}`],
    ['right-to-left override in the UUID', `\u202e${uuid}`],
    ['NUL in the UUID', `${uuid}\u0000`],
    ['combining mark in the UUID', `${uuid.slice(0, 4)}\u0301${uuid.slice(4)}`],
    ['soft hyphen instead of a dash', uuid.replace('-', '\u00ad')],
    ['en dash instead of a dash', uuid.replace(/-/g, '\u2013')],
    ['lone surrogate', `${uuid}\ud800`],
  ];
  // As unenrollments (at most a cancellation of nothing): the parser may clean a value up (it drops
  // control and bidi characters) and accept it; as an enrollment that would start a workflow.
  for (const [name, value] of homoglyphs) {
    const wipe = { ...validFields(), EventType: 'Enterprise Wipe', DeviceUUID: value };
    add('unicode', `${name} (JSON)`, JSON.stringify(wipe), { 'Content-Type': JSON_TYPE });
    add('unicode', `${name} (XML)`, xmlOf(wipe), { 'Content-Type': XML_TYPE });
    add('unicode', `${name} in an enrollment, device UUID broken (JSON)`, JSON.stringify({ ...validFields(), EnrollmentUserUUID: value, DeviceUUID: 'not-a-device-uuid' }), { 'Content-Type': JSON_TYPE });
  }
  const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(brokenJson, 'utf16le')]);
  add('unicode', 'UTF-16LE with BOM, charset utf-16le', utf16le, { 'Content-Type': 'application/json; charset=utf-16le' });
  add('unicode', 'UTF-16LE sent as UTF-8', utf16le, { 'Content-Type': JSON_TYPE });
  add('unicode', 'UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(brokenJson)]), { 'Content-Type': JSON_TYPE });
  add('unicode', 'two BOMs', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from(brokenJson)]), { 'Content-Type': JSON_TYPE });
  add('unicode', 'overlong UTF-8 quote', Buffer.concat([Buffer.from('{"EventType":'), Buffer.from([0xc0, 0xa2]), Buffer.from('MDM Enrollment Complete"}')]), { 'Content-Type': JSON_TYPE });
  add('unicode', 'invalid UTF-8 bytes', Buffer.concat([Buffer.from(brokenJson.slice(0, 20)), Buffer.from([0xff, 0xfe, 0xfd, 0x80]), Buffer.from(brokenJson.slice(20))]), { 'Content-Type': JSON_TYPE });
  add('unicode', 'CESU-8 surrogate', Buffer.concat([Buffer.from('{"EventType":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), { 'Content-Type': JSON_TYPE });
  add('unicode', 'charset utf-7', brokenJson, { 'Content-Type': 'application/json; charset=utf-7' });
  add('unicode', 'charset bogus', brokenJson, { 'Content-Type': 'application/json; charset=x-not-a-charset' });
  add('unicode', 'charset utf-32', brokenJson, { 'Content-Type': 'application/json; charset=utf-32' });
  add('unicode', 'emoji and RTL in names', JSON.stringify({ ...brokenFields(), EnrollmentUserName: '\u202e👩‍💻 gnol'.repeat(100), DeviceFriendlyName: 'Z̴̡̢̛a̵l̸g̶o̷' }), { 'Content-Type': JSON_TYPE });
  add('unicode', 'escaped NULs everywhere', brokenJson.replace(/"(\w+)":/g, '"$1\\u0000":'), { 'Content-Type': JSON_TYPE });

  // --- wrong methods and content types ---------------------------------------------------------
  for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS']) add('wrong-method', method, JSON.stringify(validFields()), { 'Content-Type': JSON_TYPE }, method);
  for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json-patch', 'text/html', '*/*', ';;;', 'application/', 'x'.repeat(2000)]) {
    add('wrong-content-type', type.slice(0, 40), JSON.stringify(validFields()), { 'Content-Type': type });
  }
  out.push({ category: 'wrong-content-type', name: 'no Content-Type', method: 'POST', headers: { ...auth }, body: Buffer.from(JSON.stringify(validFields())) });

  // --- wrong credentials, each with a valid enrollment -----------------------------------------
  const wrong = [...options.wrongAuthorizations];
  for (const authorization of wrong) {
    out.push({ category: 'wrong-auth', name: authorization.slice(0, 40) || '(empty)', method: 'POST', headers: { Authorization: authorization, 'Content-Type': JSON_TYPE }, body: Buffer.from(JSON.stringify(validFields())) });
    out.push({ category: 'wrong-auth', name: `${authorization.slice(0, 40) || '(empty)'} (XML)`, method: 'POST', headers: { Authorization: authorization, 'Content-Type': XML_TYPE }, body: Buffer.from(xmlOf(validFields())) });
  }
  out.push({ category: 'wrong-auth', name: 'no Authorization', method: 'POST', headers: { 'Content-Type': JSON_TYPE }, body: Buffer.from(JSON.stringify(validFields())) });

  // Top up with more random damage until the requested count is reached.
  while (out.length < options.count) {
    const base = random() < 0.5 ? brokenJson : brokenXml;
    const bytes = Buffer.from(base, 'utf8');
    const start = Math.floor(random() * bytes.length);
    const length = 1 + Math.floor(random() * 16);
    for (let i = start; i < Math.min(bytes.length, start + length); i++) bytes[i] = Math.floor(random() * 256);
    add(base === brokenJson ? 'malformed-json' : 'malformed-xml', `burst of ${length} random bytes at ${start}`, bytes, { 'Content-Type': base === brokenJson ? JSON_TYPE : XML_TYPE });
  }
  return out;
}
