// One configured Handlebars instance for every kernel family.
//
// - `noEscape`: we emit C++, not HTML; `&`, `<` and `"` must come through as written.
// - `strict`: a missing field throws instead of silently rendering as an empty string, so a
//   renderer that forgets a template variable fails its tests rather than producing a kernel
//   with a hole in it.
// - Partials are every templates/partials/*.hbs, registered under their base name
//   (`{{> header}}` is templates/partials/header.hbs), compiled with the same options.
// - Compiled templates are cached per name: a network renders hundreds of kernels from one
//   template.
//
// The templates directory is found relative to this module: src/codegen/handlebars.ts (vitest,
// tsx) and dist/codegen/handlebars.js (compiled) both sit two levels below the package root, and
// the package ships `templates/` at its root (package.json "files").
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

/** Absolute path of the package's templates/ directory. */
export const TEMPLATES_DIR: string = fileURLToPath(new URL('../../templates/', import.meta.url));

const COMPILE_OPTIONS: CompileOptions = { noEscape: true, strict: true };

/** A compiled template: context in, text out. */
export type RenderFn = (context: object) => string;

let instance: typeof Handlebars | null = null;
const cache = new Map<string, RenderFn>();

function handlebars(): typeof Handlebars {
  if (instance) return instance;
  if (!existsSync(TEMPLATES_DIR)) throw new Error(`templates directory not found: ${TEMPLATES_DIR}`);
  const hb = Handlebars.create();
  const partialsDir = join(TEMPLATES_DIR, 'partials');
  if (existsSync(partialsDir)) {
    // Sorted so that registration (and any error about it) does not depend on directory order.
    for (const file of readdirSync(partialsDir).filter((f) => f.endsWith('.hbs')).sort()) {
      const source = readFileSync(join(partialsDir, file), 'utf8');
      // Precompiled with our options: a partial registered as a string would be compiled lazily
      // with the caller's options, which do not reliably carry `strict`.
      hb.registerPartial(basename(file, '.hbs'), hb.compile(source, COMPILE_OPTIONS));
    }
  }
  instance = hb;
  return hb;
}

/**
 * Compiled template `templates/<name>` (e.g. `act-sparse.cu.hbs`), cached after the first call.
 */
export function template(name: string): RenderFn {
  const hit = cache.get(name);
  if (hit) return hit;
  const hb = handlebars();
  const source = readFileSync(join(TEMPLATES_DIR, name), 'utf8');
  const compiled = hb.compile(source, COMPILE_OPTIONS);
  const fn: RenderFn = (context) => compiled(context);
  cache.set(name, fn);
  return fn;
}

/** Renders `templates/<name>` with `context`. */
export function render(name: string, context: object): string {
  return template(name)(context);
}
