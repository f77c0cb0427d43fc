// The package root, found from this module's location: src/paths.ts (vitest) and
// dist/paths.js (compiled) both sit one level below it.
import { fileURLToPath } from 'node:url';

export const packageRoot = (): string => fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
