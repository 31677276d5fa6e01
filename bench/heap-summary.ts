/**
 * Where a V8 heap snapshot's memory is: the self size of every object, summed by what it is —
 * constructor name for objects, kind for strings, code, closures, arrays and V8's hidden objects.
 * Self sizes (not retained sizes) need no dominator tree, so a snapshot of a few hundred MiB is
 * summarised in seconds: the nodes array and the string table are read straight from the file's
 * bytes (a snapshot is often larger than the longest string JSON.parse can take).
 *
 *   npx tsx bench/heap-summary.ts FILE.heapsnapshot [--top 20]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface HeapGroup {
  what: string;
  selfBytes: number;
  count: number;
}

export interface HeapSummary {
  file: string;
  nodes: number;
  /** Sum of all self sizes: close to the isolate's used heap at the time of the snapshot. */
  totalSelfBytes: number;
  top: HeapGroup[];
}

interface SnapshotMeta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
}

const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function summariseHeapSnapshot(file: string, top = 20): HeapSummary {
  const bytes = readFileSync(file);
  const snapshotAt = bytes.indexOf('"snapshot":');
  const nodesAt = bytes.indexOf('"nodes":[');
  if (snapshotAt < 0 || nodesAt < 0) throw new Error(`${file}: not a V8 heap snapshot`);
  // The snapshot's header ("snapshot":{"meta":{…},"node_count":…}) is small and plain JSON.
  const header = JSON.parse(`{${bytes.subarray(snapshotAt, nodesAt).toString('utf8').replace(/,\s*$/, '')}}`) as { snapshot: { meta: SnapshotMeta; node_count: number } };
  const meta = header.snapshot.meta;
  const fieldCount = meta.node_fields.length;
  const typeField = meta.node_fields.indexOf('type');
  const nameField = meta.node_fields.indexOf('name');
  const sizeField = meta.node_fields.indexOf('self_size');
  const typeNames = meta.node_types[0];

  // nodes: integers, comma separated (with newlines), up to the closing bracket.
  const values: number[] = [];
  let at = nodesAt + '"nodes":['.length;
  let current = 0;
  let inNumber = false;
  for (; at < bytes.length; at += 1) {
    const c = bytes[at]!;
    if (c >= 0x30 && c <= 0x39) {
      current = current * 10 + (c - 0x30);
      inNumber = true;
    } else if (c === COMMA || c === CLOSE_BRACKET) {
      if (inNumber) values.push(current);
      current = 0;
      inNumber = false;
      if (c === CLOSE_BRACKET) break;
    }
  }

  // strings: the last array of the file; each element is a JSON string.
  const stringsAt = bytes.lastIndexOf('"strings":[');
  if (stringsAt < 0) throw new Error(`${file}: no string table`);
  const strings: string[] = [];
  for (at = stringsAt + '"strings":['.length; at < bytes.length; at += 1) {
    const c = bytes[at]!;
    if (c === CLOSE_BRACKET) break;
    if (c !== QUOTE) continue;
    let end = at + 1;
    while (end < bytes.length && bytes[end] !== QUOTE) end += bytes[end] === BACKSLASH ? 2 : 1;
    strings.push(JSON.parse(bytes.subarray(at, end + 1).toString('utf8')) as string);
    at = end;
  }

  const groups = new Map<string, HeapGroup>();
  let total = 0;
  for (let i = 0; i + fieldCount <= values.length; i += fieldCount) {
    const type = typeNames[values[i + typeField]!] ?? 'unknown';
    const name = strings[values[i + nameField]!] ?? '';
    const size = values[i + sizeField]!;
    total += size;
    const what = groupOf(type, name);
    const group = groups.get(what) ?? { what, selfBytes: 0, count: 0 };
    group.selfBytes += size;
    group.count += 1;
    groups.set(what, group);
  }
  return {
    file,
    nodes: values.length / fieldCount,
    totalSelfBytes: total,
    top: [...groups.values()].sort((a, b) => b.selfBytes - a.selfBytes).slice(0, top),
  };
}

/** Objects by constructor; the kinds V8 makes many small distinct names for, by kind. */
function groupOf(type: string, name: string): string {
  switch (type) {
    case 'object':
      return name.length > 60 ? `${name.slice(0, 57)}…` : name || '(object)';
    case 'native':
      return `native ${name.replace(/\s*\/.*$/, '').slice(0, 50)}`;
    case 'array':
      return `array ${name}`;
    case 'hidden':
    case 'synthetic':
      return `${type} ${name.replace(/\s*\/.*$/, '').slice(0, 50)}`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return 'strings';
    default:
      return type; // code, closure, number, regexp, symbol, bigint, object shape
  }
}

if (require.main === module) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '20' } }, allowPositionals: true });
  for (const file of positionals) {
    const summary = summariseHeapSnapshot(file, Number(values.top));
    process.stdout.write(`${file}: ${summary.nodes} objects, ${(summary.totalSelfBytes / 1_048_576).toFixed(1)} MiB\n`);
    for (const g of summary.top) process.stdout.write(`  ${(g.selfBytes / 1_048_576).toFixed(1).padStart(8)} MiB  ${String(g.count).padStart(9)}  ${g.what}\n`);
  }
}
