/**
 * A small SVG of a bench run, written by hand (no plotting library): on the left, throughput of
 * each run against the floors; on the right, event-to-delivered latency p50/p95/p99 per run.
 */
import type { BenchSummary } from './report';

const WIDTH = 900;
const HEIGHT = 395;
const PANEL = { top: 60, bottom: 300, left1: 70, right1: 420, left2: 520, right2: 870 };
const COLORS = { ours: '#2563eb', temporal: '#16a34a', crypto: '#ea580c', p50: '#93c5fd', p95: '#3b82f6', p99: '#1e3a8a', axis: '#334155', grid: '#e2e8f0' };

/** Short enough to sit under a bar. */
const SHORT: Record<string, string> = { rsa: 'RSA, no pool', 'rsa-warm': 'RSA, warm pool', ec: 'EC P-256' };
const fmt = (n: number) => Number(n.toFixed(1));

const escape = (text: string) => text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function axis(left: number, right: number, max: number, unit: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    const y = PANEL.bottom - ((PANEL.bottom - PANEL.top) * i) / 4;
    parts.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="${COLORS.grid}"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" font-size="11" text-anchor="end" fill="${COLORS.axis}">${Number(value.toPrecision(3))}</text>`);
  }
  parts.push(`<text x="${left - 50}" y="${(PANEL.top + PANEL.bottom) / 2}" font-size="12" fill="${COLORS.axis}" transform="rotate(-90 ${left - 50} ${(PANEL.top + PANEL.bottom) / 2})" text-anchor="middle">${escape(unit)}</text>`);
  parts.push(`<line x1="${left}" y1="${PANEL.bottom}" x2="${right}" y2="${PANEL.bottom}" stroke="${COLORS.axis}"/>`);
  return parts;
}

/** The plot of the core phases (undefined when the run had none: a fleet-only run). */
export function plotSvg(summary: BenchSummary): string | undefined {
  const floors = summary.floors;
  if (!floors) return undefined;
  const parts: string[] = [];
  const bursts = summary.bursts;
  const temporal = floors.temporal.enrollmentsPerSecond;
  const crypto = floors.crypto;
  const m = summary.machine;
  parts.push(`<text x="${WIDTH / 2}" y="24" font-size="15" font-weight="bold" text-anchor="middle" fill="${COLORS.axis}">smime-escrow-provider bench, ${escape(summary.startedAt.slice(0, 10))}</text>`);
  parts.push(`<text x="${WIDTH / 2}" y="42" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${m.cores} cores ${escape(m.cpuModel)}, ${Math.round(m.memoryBytes / 1_073_741_824)} GiB; ${summary.settings.events} events per burst (warm pool: ${summary.settings.warmEvents}), concurrency ${summary.settings.concurrency}</text>`);

  // Left: throughput bars against the floors, on a log scale (the floors differ by an order of magnitude).
  const floorValues = [temporal, ...Object.values(crypto).map((c) => c?.enrollmentsPerSecond ?? 0)];
  const values = [...bursts.map((b) => b.enrollmentsPerSecond), ...floorValues].filter((v) => v > 0);
  const low = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.05));
  const y1 = (v: number) => fmt(PANEL.bottom - ((PANEL.bottom - PANEL.top) * (Math.log10(Math.max(v, low)) - Math.log10(low))) / (Math.log10(high) - Math.log10(low)));
  for (let decade = low; decade < high; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const value = decade * step;
      parts.push(`<line x1="${PANEL.left1}" y1="${y1(value)}" x2="${PANEL.right1}" y2="${y1(value)}" stroke="${COLORS.grid}"/>`);
      parts.push(`<text x="${PANEL.left1 - 6}" y="${fmt(y1(value) + 4)}" font-size="11" text-anchor="end" fill="${COLORS.axis}">${Number(value.toPrecision(3))}</text>`);
    }
  }
  parts.push(`<text x="${PANEL.left1 - 6}" y="${fmt(y1(high) + 4)}" font-size="11" text-anchor="end" fill="${COLORS.axis}">${high}</text>`);
  parts.push(`<text x="${PANEL.left1 - 50}" y="${(PANEL.top + PANEL.bottom) / 2}" font-size="12" fill="${COLORS.axis}" transform="rotate(-90 ${PANEL.left1 - 50} ${(PANEL.top + PANEL.bottom) / 2})" text-anchor="middle">enrollments per second (log scale)</text>`);
  parts.push(`<line x1="${PANEL.left1}" y1="${PANEL.bottom}" x2="${PANEL.right1}" y2="${PANEL.bottom}" stroke="${COLORS.axis}"/>`);
  const slot1 = (PANEL.right1 - PANEL.left1) / Math.max(1, bursts.length);
  bursts.forEach((b, i) => {
    const x = fmt(PANEL.left1 + i * slot1 + slot1 * 0.2);
    const w = fmt(slot1 * 0.6);
    const cryptoFloor = crypto[b.cryptoFloor]?.enrollmentsPerSecond;
    parts.push(`<rect x="${x}" y="${y1(b.enrollmentsPerSecond)}" width="${w}" height="${fmt(PANEL.bottom - y1(b.enrollmentsPerSecond))}" fill="${COLORS.ours}"/>`);
    const inside = PANEL.bottom - y1(b.enrollmentsPerSecond) > 20;
    parts.push(`<text x="${fmt(x + w / 2)}" y="${fmt(y1(b.enrollmentsPerSecond) + (inside ? 14 : -4))}" font-size="11" font-weight="bold" text-anchor="middle" fill="${inside ? 'white' : COLORS.axis}">${b.enrollmentsPerSecond}</text>`);
    parts.push(`<line x1="${x - 6}" y1="${y1(temporal)}" x2="${x + w + 6}" y2="${y1(temporal)}" stroke="${COLORS.temporal}" stroke-width="3"/>`);
    if (cryptoFloor !== undefined) parts.push(`<line x1="${x - 6}" y1="${y1(cryptoFloor)}" x2="${x + w + 6}" y2="${y1(cryptoFloor)}" stroke="${COLORS.crypto}" stroke-width="3" stroke-dasharray="6 3"/>`);
    parts.push(`<text x="${x + w / 2}" y="${PANEL.bottom + 16}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${escape(SHORT[b.config] ?? b.config)}</text>`);
    parts.push(`<text x="${x + w / 2}" y="${PANEL.bottom + 30}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">ratioToFloor ${b.ratios.ratioToFloor}</text>`);
  });
  const legend1 = [
    [COLORS.ours, 'ours'],
    [COLORS.temporal, 'Temporal floor'],
    [COLORS.crypto, 'crypto floor (same keys)'],
  ];
  legend1.forEach(([color, label], i) => {
    parts.push(`<rect x="${PANEL.left1 + i * 120}" y="${PANEL.bottom + 46}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${PANEL.left1 + i * 120 + 16}" y="${PANEL.bottom + 56}" font-size="11" fill="${COLORS.axis}">${escape(label!)}</text>`);
  });

  // Right: latency percentiles (seconds) per run, the Temporal floor first.
  const runs = [{ label: 'Temporal floor', latency: floors.temporal.latencyMs }, ...bursts.map((b) => ({ label: SHORT[b.config] ?? b.config, latency: b.latencyMs }))];
  const max2 = niceMax(Math.max(...runs.map((r) => r.latency.p99 / 1000)) * 1.1);
  parts.push(...axis(PANEL.left2, PANEL.right2, max2, 'event → delivered, seconds'));
  const y2 = (v: number) => fmt(PANEL.bottom - ((PANEL.bottom - PANEL.top) * v) / max2);
  const slot2 = (PANEL.right2 - PANEL.left2) / runs.length;
  runs.forEach((r, i) => {
    const x0 = fmt(PANEL.left2 + i * slot2 + slot2 * 0.15);
    const w = fmt((slot2 * 0.7) / 3);
    (['p50', 'p95', 'p99'] as const).forEach((p, j) => {
      const v = r.latency[p] / 1000;
      parts.push(`<rect x="${fmt(x0 + j * w)}" y="${y2(v)}" width="${fmt(w - 2)}" height="${fmt(PANEL.bottom - y2(v))}" fill="${COLORS[p]}"><title>${escape(r.label)} ${p}: ${v.toFixed(1)} s</title></rect>`);
    });
    parts.push(`<text x="${fmt(x0 + 1.5 * w)}" y="${PANEL.bottom + 16}" font-size="11" text-anchor="middle" fill="${COLORS.axis}">${escape(r.label)}</text>`);
  });
  (['p50', 'p95', 'p99'] as const).forEach((p, i) => {
    parts.push(`<rect x="${PANEL.left2 + i * 70}" y="${PANEL.bottom + 46}" width="12" height="12" fill="${COLORS[p]}"/>`);
    parts.push(`<text x="${PANEL.left2 + i * 70 + 16}" y="${PANEL.bottom + 56}" font-size="11" fill="${COLORS.axis}">${p}</text>`);
  });
  if (summary.webhookAck) {
    const a = summary.webhookAck;
    const busy = summary.webhookAckUnderLoad;
    const loaded = busy ? `; worker busy: p99 ${busy.ackMs.p99.toFixed(0)} ms` : '';
    parts.push(`<text x="${PANEL.left2}" y="${PANEL.bottom + 76}" font-size="11" fill="${COLORS.axis}">webhook ack at ${a.rate}/s: p50 ${a.ackMs.p50.toFixed(1)} ms, p99 ${a.ackMs.p99.toFixed(1)} ms</text>`);
    if (busy) parts.push(`<text x="${PANEL.left2}" y="${PANEL.bottom + 90}" font-size="11" fill="${COLORS.axis}">${escape(loaded.slice(2))} (same cores)</text>`);
  }

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT + 20}" viewBox="0 0 ${WIDTH} ${HEIGHT + 20}" font-family="system-ui, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
