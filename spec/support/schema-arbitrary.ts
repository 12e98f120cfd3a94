/**
 * fast-check arbitraries for any protocol description: random values of exactly the shapes the
 * codec must carry, for round-trip property tests.
 */
import fc from 'fast-check';
import type { VariantDef } from '../../src/protocol/enum-schema';
import { camelCase, type Schema } from '../../src/protocol/schema';

const MAX_ITEMS = 4;

export function arbitraryFor(schema: Schema): fc.Arbitrary<unknown> {
  switch (schema.kind) {
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return fc.oneof(fc.constantFrom(0, 127, 128, 0xffff_ffff), fc.integer({ min: 0, max: 0xffff_ffff }));
    case 'usize':
      return fc.oneof(fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: 0x7fff_ffff }));
    case 'i32':
      return fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
    case 'u64':
      return fc.oneof(fc.constantFrom(0n, (1n << 64n) - 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    case 'i64':
      return fc.oneof(fc.constantFrom(-(1n << 63n), (1n << 63n) - 1n, -1n), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }));
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => schema.maxBytes === undefined || Buffer.byteLength(s) <= schema.maxBytes);
    case 'bytes':
      return fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
    case 'option':
      return fc.option(arbitraryFor(schema.inner), { nil: undefined });
    case 'vec':
      return fc.array(arbitraryFor(schema.item), { maxLength: MAX_ITEMS });
    case 'tuple':
      return fc.tuple(...schema.items.map(arbitraryFor));
    case 'map':
      return fc
        .uniqueArray(fc.tuple(arbitraryFor(schema.key), arbitraryFor(schema.value)), {
          maxLength: MAX_ITEMS,
          selector: ([k]) => k,
        })
        .map((entries) => new Map(entries));
    case 'struct': {
      const fields = schema.fields.map(([wireName, s]) => [camelCase(wireName), arbitraryFor(s)] as const);
      return fc.tuple(...fields.map(([, a]) => a)).map((values) => {
        const out: Record<string, unknown> = {};
        fields.forEach(([key], i) => {
          if (values[i] !== undefined) out[key] = values[i];
        });
        return out;
      });
    }
  }
}

export function arbitraryEnum(variants: readonly VariantDef[]): fc.Arbitrary<{ type: string }> {
  return fc.oneof(
    ...variants.map(([variantName, fields]) =>
      arbitraryFor({ kind: 'struct', fields }).map((body) => ({ type: variantName, ...(body as object) })),
    ),
  );
}
