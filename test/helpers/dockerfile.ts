/**
 * A small Dockerfile reader for the deployment tests: stages (FROM … AS name) and their
 * instructions, continuation lines joined, comments dropped. Enough to check what the image does
 * and to run its install and start commands outside Docker.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export function readDockerfile(path: string): { args: Instruction[]; stages: Stage[] } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const logical: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (!current && (line.trim().startsWith('#') || line.trim() === '')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push((current + line).trim());
    current = '';
  }
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const text of logical) {
    const match = /^(\w+)\s+([\s\S]*)$/.exec(text);
    if (!match) continue;
    const op = match[1]!.toUpperCase();
    const rest = match[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      stages.push({ from: from?.[1] ?? rest, name: from?.[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length === 0) {
      args.push({ op, args: rest });
    } else {
      stages[stages.length - 1]!.instructions.push({ op, args: rest });
    }
  }
  return { args, stages };
}

/** The command of a CMD or ENTRYPOINT in exec form (`["node", "dist/worker.js"]`). */
export function execForm(instruction: Instruction | undefined): string[] {
  if (!instruction) throw new Error('no such instruction');
  const parsed = JSON.parse(instruction.args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw new Error(`${instruction.op} is not in exec form: ${instruction.args}`);
  return parsed as string[];
}
