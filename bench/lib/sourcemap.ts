/**
 * Minimal source map (v3) reader: maps a generated (line, column) back to the original file and line, so a
 * CPU profile of the bundled server names src/ files instead of bundle offsets. Lines and columns are
 * 0-based, as in V8 call frames and in the mappings.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

interface RawMap {
  version: number;
  sources: string[];
  sourceRoot?: string;
  mappings: string;
}

const B64 = new Map([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]));

/** Decodes one base64 VLQ segment field list, e.g. "AAgBC" -> [0, 0, 16, 1]. */
export function decodeVlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of seg) {
    const d = B64.get(ch);
    if (d === undefined) throw new Error(`bad VLQ character ${ch}`);
    value += (d & 31) << shift;
    if (d & 32) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return out;
}

export class SourceMap {
  /** Per generated line: sorted [genColumn, sourceIndex, sourceLine] triples, flattened. */
  readonly #lines: Int32Array[] = [];
  readonly sources: string[];

  constructor(raw: RawMap, mapPath: string) {
    const root = raw.sourceRoot ? resolve(dirname(mapPath), raw.sourceRoot) : dirname(mapPath);
    this.sources = raw.sources.map((s) => resolve(root, s));
    let src = 0;
    let srcLine = 0;
    let srcCol = 0;
    for (const line of raw.mappings.split(';')) {
      let col = 0;
      const segs: number[] = [];
      if (line) {
        for (const seg of line.split(',')) {
          const f = decodeVlq(seg);
          col += f[0] ?? 0;
          if (f.length >= 4) {
            src += f[1]!;
            srcLine += f[2]!;
            srcCol += f[3]!;
            segs.push(col, src, srcLine);
          }
        }
      }
      this.#lines.push(Int32Array.from(segs));
    }
  }

  static load(mapPath: string): SourceMap {
    return new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8')) as RawMap, mapPath);
  }

  /** The original file and 0-based line of a generated position, or null when unmapped. */
  lookup(line: number, column: number): { source: string; line: number } | null {
    const segs = this.#lines[line];
    if (!segs || segs.length === 0) return null;
    let lo = 0;
    let hi = segs.length / 3 - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segs[mid * 3]! <= column) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) best = 0;
    return { source: this.sources[segs[best * 3 + 1]!]!, line: segs[best * 3 + 2]! };
  }
}
