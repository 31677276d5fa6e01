/**
 * `npm run config:docs`: regenerate the README's configuration table from the settings table,
 * between the markers `<!-- settings:begin -->` and `<!-- settings:end -->`. A unit test checks
 * the README is current, so a new setting cannot go undocumented.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { projectPath } from '../tools/paths';
import { SETTINGS, type Setting } from './settings';

export const BEGIN = '<!-- settings:begin -->';
export const END = '<!-- settings:end -->';

export function settingsTable(): string {
  const rows = (Object.values(SETTINGS) as Setting[]).map((s) => {
    const shown = s.default === undefined ? '—' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    return `| \`${s.env}\` | \`${s.path}\` | ${shown} | ${s.description.replace(/\|/g, '\\|')}${s.secret ? ' *(secret)*' : ''} |`;
  });
  return ['| Variable | YAML path | Default | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, start + BEGIN.length)}\n${settingsTable()}\n${readme.slice(end)}`;
}

if (require.main === module) {
  const path = projectPath('README.md');
  writeFileSync(path, withSettingsTable(readFileSync(path, 'utf8')));
  process.stdout.write(`updated the configuration table in ${path}\n`);
}
