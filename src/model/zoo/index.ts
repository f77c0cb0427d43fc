// The model zoo: every network cusnn-gen knows by name.
import type { Graph } from '../ir.js';
import { densenet } from './densenet.js';
import { resnet } from './resnet.js';
import { vgg } from './vgg.js';

const BUILDERS = {
  resnet50: () => resnet('resnet50', [3, 4, 6, 3]),
  resnet101: () => resnet('resnet101', [3, 4, 23, 3]),
  resnet152: () => resnet('resnet152', [3, 8, 36, 3]),
  densenet121: () => densenet('densenet121', [6, 12, 24, 16]),
  densenet169: () => densenet('densenet169', [6, 12, 32, 32]),
  densenet201: () => densenet('densenet201', [6, 12, 48, 32]),
  vgg16: () => vgg('vgg16', [2, 2, 3, 3, 3]),
  vgg19: () => vgg('vgg19', [2, 2, 4, 4, 4]),
} as const satisfies Record<string, () => Graph>;

export type ModelName = keyof typeof BUILDERS;
export const MODEL_NAMES = Object.keys(BUILDERS) as ModelName[];

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(BUILDERS, name);
}

export function buildModel(name: string): Graph {
  if (!isModelName(name)) throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.join(', ')})`);
  return BUILDERS[name]();
}
