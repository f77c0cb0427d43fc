// Checking a parsed document against its TypeBox schema, with one-line errors: the file, the
// field at fault (as a path, e.g. `layers.conv1_conv.inputSparsity` or `convs[3].spec`), what the
// schema expects and what the file holds. Every number in a schema built from `Type.Number` /
// `Type.Integer` must be finite: TypeBox's default policy rejects NaN and ±Infinity, and
// JSON.parse turns a huge literal such as 1e400 into Infinity, so this is where those are caught.
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

/** A field path from a JSON pointer: `/convs/3/spec` -> `convs[3].spec`. */
export function fieldPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out === '' ? p : `${out}.${p}`), '');
}

/** A value as an error message shows it: short, and `absent` for a missing field. */
export function found(v: unknown): string {
  if (v === undefined) return 'nothing (the field is absent)';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : `${v} (not a finite number)`;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    return keys.length === 0 ? 'an empty object' : `an object {${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}}`;
  }
  return typeof v;
}

interface Described {
  readonly description?: string;
  readonly type?: string;
  readonly const?: unknown;
  readonly anyOf?: readonly TSchema[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly minLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly items?: TSchema | readonly TSchema[];
  readonly required?: readonly string[];
}

const range = (s: Described): string => {
  const lo = s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : s.minimum !== undefined ? `>= ${s.minimum}` : '';
  const hi = s.maximum !== undefined ? `<= ${s.maximum}` : '';
  if (s.minimum !== undefined && s.maximum !== undefined) return ` in [${s.minimum}, ${s.maximum}]`;
  return [lo, hi].filter((x) => x !== '').map((x) => ` ${x}`).join(' and');
};

/** What a schema expects, in words (its `description` when it has one). */
export function describe(schema: TSchema): string {
  const s = schema as Described;
  if (s.description !== undefined) return s.description;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(describe).join(' or ');
  switch (s.type) {
    case 'number':
      return `a finite number${range(s)}`;
    case 'integer':
      return `an integer${range(s)}`;
    case 'string':
      return s.minLength ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array': {
      if (Array.isArray(s.items)) return `a list of ${s.items.length} (${(s.items as TSchema[]).map(describe).join(', ')})`;
      const of = s.items ? ` of ${describe(s.items as TSchema)}` : '';
      const n = s.minItems !== undefined && s.minItems === s.maxItems ? ` ${s.minItems}` : '';
      return `a list${n}${of.replace(/^ of an? /, ' of ')}`;
    }
    case 'object':
      return s.required && s.required.length > 0 ? `an object with ${s.required.join(', ')}` : 'an object';
    default:
      return 'a valid value';
  }
}

/** The most precise error: inside a union, the variant that got furthest into the value. */
function deepest(e: ValueError): ValueError {
  if (e.type !== ValueErrorType.Union || (e.schema as Described).description !== undefined) return e;
  // A variant picked by the value's `family` (its const, or the one open to other families).
  const family = typeof e.value === 'object' && e.value !== null ? (e.value as { family?: unknown }).family : undefined;
  const variants = (e.schema as Described).anyOf ?? [];
  if (typeof family === 'string' && variants.length === e.errors.length) {
    const tag = (v: TSchema): Described | undefined => (v as { properties?: { family?: Described } }).properties?.family;
    let i = variants.findIndex((v) => tag(v)?.const === family);
    if (i < 0) i = variants.findIndex((v) => tag(v) !== undefined && tag(v)!.const === undefined && (tag(v) as { pattern?: string }).pattern !== undefined && new RegExp((tag(v) as { pattern: string }).pattern).test(family));
    const first = i >= 0 ? e.errors[i]!.First() : undefined;
    if (first) return deepest(first);
  }
  let best: ValueError | undefined;
  for (const it of e.errors) {
    const first = it.First();
    if (!first) continue;
    // A wrong discriminator ('family') says only that this variant is not the one meant.
    const isTag = first.path.endsWith('/family') && (first.schema as Described).const !== undefined;
    const score = first.path.length - (isTag ? 1e6 : 0);
    const bestScore = best ? best.path.length - (best.path.endsWith('/family') ? 1e6 : 0) : -Infinity;
    if (score > bestScore) best = first;
  }
  return best && best.path.length > e.path.length ? deepest(best) : e;
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<T>;
}

/** The first problem of `value` against `schema` as `field: expected ..., found ...`, or null. */
export function firstProblem(schema: TSchema, value: unknown, where: (field: string) => string = (f) => f): string | null {
  const c = checker(schema);
  if (c.Check(value)) return null;
  const e = c.Errors(value).First();
  if (!e) return 'does not match its schema';
  const d = deepest(e);
  const at = where(fieldPath(d.path));
  return `${at === '' ? '' : `${at}: `}expected ${describe(d.schema)}, found ${found(d.value)}`;
}

/** A one-line error of a file's content (the readers throw these): bad input, exit code 1 (EXIT.badInput, src/output/exit.ts). */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  readonly exitCode = 1;
}

/**
 * `value` typed by `schema`, or a SchemaError `<label>: <field>: expected ..., found ...` (label
 * names the file, e.g. `calibration /x/calibration.json`).
 */
export function checkSchema<T extends TSchema>(schema: T, value: unknown, label: string, where?: (field: string) => string): Static<T> {
  const problem = firstProblem(schema, value, where);
  if (problem !== null) throw new SchemaError(`${label}: ${problem}`);
  return value as Static<T>;
}

/** JSON.parse with the file named and the parser's message kept to one line. */
export function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new SchemaError(`${label}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}
