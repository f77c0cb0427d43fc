// Weight files: the safetensors header (tensor entries and cusnn's `__metadata__`) and the
// `cusnn-filled.json` manifest a .bin folder carries when some of its layers were filled
// synthetically (so an export and re-import keeps them labelled filled).
import { Type } from '@sinclair/typebox';
import { Count } from './tiles.js';

export const WEIGHTS_FORMAT = 'cusnn-weights/1';
export const FILLED_FORMAT = 'cusnn-filled/1';

/** Byte offsets must be exact in a double: at most 2^53 - 1. */
const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const TensorEntrySchema = Type.Object({
  /** Any string here: the reader names the layer when it is not F32 or F16. */
  dtype: Type.String(),
  shape: Type.Array(Count),
  data_offsets: Type.Tuple([Offset, Offset], { description: 'data_offsets [begin, end] (two integers >= 0)' }),
});

export const MetadataSchema = Type.Object(
  {
    /** The reader names the expected format when it is another one. */
    format: Type.Optional(Type.String()),
    model: Type.Optional(Type.String({ minLength: 1 })),
    source: Type.Optional(Type.String()),
    storage: Type.Optional(Type.Union([Type.Literal('fp32'), Type.Literal('fp16')])),
    /** JSON list of the tensor keys filled synthetically. */
    filled: Type.Optional(Type.String()),
  },
  { additionalProperties: Type.String({ description: 'a string (safetensors metadata values are strings)' }) },
);

/** The header: `__metadata__` and one entry per tensor key. */
export const SafetensorsHeaderSchema = Type.Object(
  { __metadata__: Type.Optional(MetadataSchema) },
  { additionalProperties: TensorEntrySchema, description: 'a JSON object of tensor entries' },
);

export const FilledKeysSchema = Type.Array(Type.String({ minLength: 1 }), { description: 'a JSON list of tensor keys' });

export const FilledManifestSchema = Type.Object({
  format: Type.Literal(FILLED_FORMAT),
  model: Type.String({ minLength: 1 }),
  filled: FilledKeysSchema,
});

/** File name of the manifest inside a .bin folder. */
export const FILLED_MANIFEST = 'cusnn-filled.json';
