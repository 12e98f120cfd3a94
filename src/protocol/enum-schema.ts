/**
 * Rust enums as postcard writes them: the variant's index (declaration order) as a varint, then the
 * variant's fields. In TypeScript a variant is an object whose `type` is the variant's name.
 */
import { ProtocolError } from '../errors.js';
import type { PostcardReader } from './postcard-reader.js';
import type { PostcardWriter } from './postcard-writer.js';
import { type Codec, type FieldDef, type InferStruct, type InferStructInput, struct, compile } from './schema.js';

export type VariantDef = readonly [name: string, fields: readonly FieldDef[]];

export const variant = <const N extends string, const F extends readonly FieldDef[]>(name: N, ...fields: F) =>
  [name, fields] as const;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The union of `{ type: Name } & fields` over an enum's variants. */
export type InferEnum<V extends readonly VariantDef[]> = {
  [I in keyof V]: V[I] extends readonly [infer N extends string, infer F extends readonly FieldDef[]]
    ? Simplify<{ type: N } & InferStruct<F>>
    : never;
}[number];

export type InferEnumInput<V extends readonly VariantDef[]> = {
  [I in keyof V]: V[I] extends readonly [infer N extends string, infer F extends readonly FieldDef[]]
    ? Simplify<{ readonly type: N } & InferStructInput<F>>
    : never;
}[number];

export interface EnumCodec {
  readonly names: readonly string[];
  indexOf(name: string): number | undefined;
  encode(writer: PostcardWriter, value: { type: string }): void;
  decode(reader: PostcardReader): { type: string };
}

export function compileEnum(enumName: string, variants: readonly VariantDef[]): EnumCodec {
  const names = variants.map(([n]) => n);
  const byName = new Map<string, { index: number; body: Codec }>();
  const byIndex: { name: string; body: Codec }[] = [];
  variants.forEach(([variantName, fields], index) => {
    const body = compile(struct(...fields), `${enumName}::${variantName}`);
    byName.set(variantName, { index, body });
    byIndex.push({ name: variantName, body });
  });
  return {
    names,
    indexOf: (n) => byName.get(n)?.index,
    encode(writer, value) {
      const entry = typeof value === 'object' && value !== null ? byName.get(value.type) : undefined;
      if (entry === undefined) {
        throw new ProtocolError(`cannot encode ${enumName}: unknown variant ${JSON.stringify((value as { type?: unknown })?.type)}`);
      }
      writer.varint(entry.index);
      entry.body.encode(writer, value);
    },
    decode(reader) {
      const index = reader.varint(32, `${enumName} variant index`);
      const entry = byIndex[index];
      if (entry === undefined) {
        return reader.fail(`unknown ${enumName} variant index ${index} (rivven-protocol 0.0.22 has ${byIndex.length})`);
      }
      const body = entry.body.decode(reader) as Record<string, unknown>;
      return { type: entry.name, ...body };
    },
  };
}
