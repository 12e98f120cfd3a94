/**
 * A small description language for the serde types of rivven-protocol, and a compiler that turns a
 * description into an encoder/decoder pair. The message tables (`request-schema.ts`,
 * `response-schema.ts`) are written in it, so the wire layout lives in one place and the TypeScript
 * types are inferred from the same table that drives the bytes: they cannot drift apart.
 *
 * Mapping (postcard as serde lays it out):
 *   u8 → number (raw byte) · u16/u32/usize → number (varint) · i32 → number (zigzag varint)
 *   u64 → bigint (varint) · i64 → bigint (zigzag varint) · bool → boolean
 *   String → string · Bytes/Vec<u8> → Buffer · Option<T> → T | undefined · Vec<T> → T[]
 *   (A, B) → [A, B] · HashMap<K, V> → Map<K, V> · struct → object with camelCase keys
 */
import { ProtocolError } from '../errors.js';
import type { PostcardReader } from './postcard-reader.js';
import type { PostcardWriter } from './postcard-writer.js';

export type Schema =
  | { readonly kind: 'u8' | 'u16' | 'u32' | 'usize' | 'i32' | 'u64' | 'i64' | 'bool' | 'bytes' }
  | { readonly kind: 'string'; readonly maxBytes?: number }
  | { readonly kind: 'option'; readonly inner: Schema }
  | { readonly kind: 'vec'; readonly item: Schema; readonly limit: number; readonly budget?: 'headers'; readonly layout?: 'batchRecords' }
  | { readonly kind: 'tuple'; readonly items: readonly Schema[] }
  | { readonly kind: 'map'; readonly key: Schema; readonly value: Schema; readonly limit: number }
  | { readonly kind: 'struct'; readonly fields: readonly FieldDef[] };

export type FieldDef = readonly [wireName: string, schema: Schema];

// ---------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------

export const u8 = { kind: 'u8' } as const;
export const u16 = { kind: 'u16' } as const;
export const u32 = { kind: 'u32' } as const;
export const usize = { kind: 'usize' } as const;
export const i32 = { kind: 'i32' } as const;
export const u64 = { kind: 'u64' } as const;
export const i64 = { kind: 'i64' } as const;
export const bool = { kind: 'bool' } as const;
export const bytes = { kind: 'bytes' } as const;
export const string = { kind: 'string' } as const;
/** A string the broker bounds (topic, group and member names): `MAX_NAME_LEN` bytes. */
export const name = { kind: 'string', maxBytes: 256 } as const;

export const option = <const S extends Schema>(inner: S) => ({ kind: 'option', inner }) as const;
export const vec = <const S extends Schema>(item: S, limit: number) => ({ kind: 'vec', item, limit }) as const;
/**
 * A record's headers, `Vec<(String, Vec<u8>)>`: decoded against the reader's header limits
 * (count per record and per message, key and value sizes) instead of the generic list budget.
 */
export const headerList = { kind: 'vec', item: { kind: 'tuple', items: [string, bytes] }, limit: 10_000, budget: 'headers' } as const;
/**
 * A publish request's records, `Vec<BatchRecord>` (`key: Option<Bytes>`, `value: Bytes`): the same
 * bytes as `vec(struct(['key', option(bytes)], ['value', bytes]))`, but encoded in one sized pass
 * with no call per field (the producer's hot path: every record of every batch goes through it).
 */
export const batchRecordList = (limit: number) =>
  ({ kind: 'vec', item: struct(['key', option(bytes)], ['value', bytes]), limit, layout: 'batchRecords' }) as const;
export const tuple = <const S extends readonly Schema[]>(...items: S) => ({ kind: 'tuple', items }) as const;
export const map = <const K extends Schema, const V extends Schema>(key: K, value: V, limit: number) =>
  ({ kind: 'map', key, value, limit }) as const;
export const struct = <const F extends readonly FieldDef[]>(...fields: F) => ({ kind: 'struct', fields }) as const;

// ---------------------------------------------------------------------------------------------
// Types inferred from descriptions
// ---------------------------------------------------------------------------------------------

export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type InferTuple<T extends readonly Schema[]> = { -readonly [K in keyof T]: T[K] extends Schema ? Infer<T[K]> : never };

type OptionalKeys<F extends readonly FieldDef[]> = {
  [I in keyof F]: F[I] extends readonly [infer N extends string, { readonly kind: 'option' }] ? N : never;
}[number];

export type InferStruct<F extends readonly FieldDef[]> = Simplify<
  { [E in F[number] as E[0] extends OptionalKeys<F> ? never : CamelCase<E[0]>]: Infer<E[1]> } & {
    [E in F[number] as E[0] extends OptionalKeys<F> ? CamelCase<E[0]> : never]?: Infer<E[1]>;
  }
>;

export type Infer<S extends Schema> = Schema extends S
  ? unknown // the general Schema type, not a literal description: nothing more precise to infer
  : S extends { kind: 'u8' | 'u16' | 'u32' | 'usize' | 'i32' }
  ? number
  : S extends { kind: 'u64' | 'i64' }
    ? bigint
    : S extends { kind: 'bool' }
      ? boolean
      : S extends { kind: 'string' }
        ? string
        : S extends { kind: 'bytes' }
          ? Buffer
          : S extends { kind: 'option'; inner: infer I extends Schema }
            ? Infer<I> | undefined
            : S extends { kind: 'vec'; item: infer I extends Schema }
              ? Infer<I>[]
              : S extends { kind: 'tuple'; items: infer T extends readonly Schema[] }
                ? InferTuple<T>
                : S extends { kind: 'map'; key: infer K extends Schema; value: infer V extends Schema }
                  ? Map<Infer<K>, Infer<V>>
                  : S extends { kind: 'struct'; fields: infer F extends readonly FieldDef[] }
                    ? number extends F['length']
                      ? Record<string, unknown> // not a literal field list: stop here (keeps inference finite)
                      : InferStruct<F>
                    : never;

/** What users may hand to an encoder: byte fields also take strings (encoded as UTF-8). */
export type InferInput<S extends Schema> = Schema extends S
  ? unknown
  : S extends { kind: 'bytes' }
  ? Uint8Array | string
  : S extends { kind: 'option'; inner: infer I extends Schema }
    ? InferInput<I> | undefined
    : S extends { kind: 'vec'; item: infer I extends Schema }
      ? readonly InferInput<I>[]
      : S extends { kind: 'tuple'; items: infer T extends readonly Schema[] }
        ? { readonly [K in keyof T]: T[K] extends Schema ? InferInput<T[K]> : never }
        : S extends { kind: 'map'; key: infer K extends Schema; value: infer V extends Schema }
          ? ReadonlyMap<Infer<K>, InferInput<V>>
          : S extends { kind: 'struct'; fields: infer F extends readonly FieldDef[] }
            ? number extends F['length']
              ? Record<string, unknown>
              : InferStructInput<F>
            : Infer<S>;

export type InferStructInput<F extends readonly FieldDef[]> = Simplify<
  { readonly [E in F[number] as E[0] extends OptionalKeys<F> ? never : CamelCase<E[0]>]: InferInput<E[1]> } & {
    readonly [E in F[number] as E[0] extends OptionalKeys<F> ? CamelCase<E[0]> : never]?: InferInput<E[1]>;
  }
>;

// ---------------------------------------------------------------------------------------------
// Compilation into encoder/decoder closures
// ---------------------------------------------------------------------------------------------

export interface Codec {
  encode(writer: PostcardWriter, value: unknown): void;
  decode(reader: PostcardReader): unknown;
}

export function camelCase(wireName: string): string {
  return wireName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function encodeError(path: string, expected: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
  throw new ProtocolError(`cannot encode ${path}: expected ${expected}, got ${shown}`);
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function checkedInt(path: string, expected: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    encodeError(path, expected, value);
  }
  return value;
}

function checkedBig(path: string, expected: string, value: unknown, min: bigint, max: bigint): bigint {
  if (typeof value !== 'bigint' || value < min || value > max) encodeError(path, expected, value);
  return value;
}

/** Compile a description into an encoder/decoder; `path` names the field in error messages. */
export function compile(schema: Schema, path: string): Codec {
  switch (schema.kind) {
    case 'u8':
      return {
        encode: (w, v) => w.u8(checkedInt(path, 'u8', v, 0, 0xff)),
        decode: (r) => r.u8(path),
      };
    case 'u16':
      return {
        encode: (w, v) => w.varint(checkedInt(path, 'u16', v, 0, 0xffff)),
        decode: (r) => r.varint(16, path),
      };
    case 'u32':
      return {
        encode: (w, v) => w.varint(checkedInt(path, 'u32', v, 0, 0xffff_ffff)),
        decode: (r) => r.varint(32, path),
      };
    case 'usize':
      return {
        encode: (w, v) => w.varint(checkedInt(path, 'usize (a safe integer ≥ 0)', v, 0, Number.MAX_SAFE_INTEGER)),
        decode: (r) => r.varint(53, path),
      };
    case 'i32':
      return {
        encode: (w, v) => w.zigzag32(checkedInt(path, 'i32', v, -0x8000_0000, 0x7fff_ffff)),
        decode: (r) => r.zigzag32(path),
      };
    case 'u64':
      return {
        encode: (w, v) => w.varintBig(checkedBig(path, 'u64 (bigint)', v, 0n, U64_MAX)),
        decode: (r) => r.varintBig(path),
      };
    case 'i64':
      return {
        encode: (w, v) => w.zigzag64(checkedBig(path, 'i64 (bigint)', v, I64_MIN, I64_MAX)),
        decode: (r) => r.zigzag64(path),
      };
    case 'bool':
      return {
        encode: (w, v) => (typeof v === 'boolean' ? w.bool(v) : encodeError(path, 'boolean', v)),
        decode: (r) => r.bool(path),
      };
    case 'bytes':
      return {
        encode: (w, v) => {
          if (v instanceof Uint8Array) w.bytes(v);
          else if (typeof v === 'string') w.bytes(Buffer.from(v, 'utf8'));
          else encodeError(path, 'bytes (Buffer, Uint8Array or string)', v);
        },
        decode: (r) => r.bytes(path),
      };
    case 'string': {
      const maxBytes = schema.maxBytes;
      return {
        encode: (w, v) => {
          if (typeof v !== 'string') encodeError(path, 'string', v);
          if (maxBytes !== undefined && Buffer.byteLength(v, 'utf8') > maxBytes) {
            throw new ProtocolError(`cannot encode ${path}: longer than the protocol's limit of ${maxBytes} bytes`);
          }
          w.string(v);
        },
        decode: (r) => r.string(path, maxBytes),
      };
    }
    case 'option': {
      const inner = compile(schema.inner, path);
      return {
        encode: (w, v) => {
          if (v === undefined || v === null) {
            w.u8(0);
          } else {
            w.u8(1);
            inner.encode(w, v);
          }
        },
        decode: (r) => (r.optionTag(path) ? inner.decode(r) : undefined),
      };
    }
    case 'vec': {
      const item = compile(schema.item, `${path}[]`);
      const limit = schema.limit;
      const encode: Codec['encode'] = (w, v) => {
        if (!Array.isArray(v)) encodeError(path, 'array', v);
        if (v.length > limit) {
          throw new ProtocolError(`cannot encode ${path}: ${v.length} items, more than the protocol's limit of ${limit}`);
        }
        w.varint(v.length);
        for (const element of v) item.encode(w, element);
      };
      if (schema.budget === 'headers') return { encode, decode: (r) => r.headers(path) };
      const decode: Codec['decode'] = (r) => {
        const n = r.count(path, limit);
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = item.decode(r);
        return out;
      };
      if (schema.layout === 'batchRecords') {
        return {
          encode: (w, v) => {
            // Strings (and anything malformed) take the general path, which converts or says what is wrong.
            if (!Array.isArray(v) || v.length > limit || !w.batchRecords(v)) encode(w, v);
          },
          decode,
        };
      }
      return { encode, decode };
    }
    case 'tuple': {
      const items = schema.items.map((s, i) => compile(s, `${path}.${i}`));
      return {
        encode: (w, v) => {
          if (!Array.isArray(v) || v.length !== items.length) encodeError(path, `a ${items.length}-tuple`, v);
          for (let i = 0; i < items.length; i++) items[i]!.encode(w, v[i]);
        },
        decode: (r) => items.map((c) => c.decode(r)),
      };
    }
    case 'map': {
      const key = compile(schema.key, `${path}{key}`);
      const value = compile(schema.value, `${path}{value}`);
      const limit = schema.limit;
      return {
        encode: (w, v) => {
          if (!(v instanceof Map)) encodeError(path, 'Map', v);
          if (v.size > limit) {
            throw new ProtocolError(`cannot encode ${path}: ${v.size} entries, more than the protocol's limit of ${limit}`);
          }
          w.varint(v.size);
          for (const [k, val] of v) {
            key.encode(w, k);
            value.encode(w, val);
          }
        },
        decode: (r) => {
          const n = r.count(path, limit);
          const out = new Map<unknown, unknown>();
          for (let i = 0; i < n; i++) {
            const k = key.decode(r);
            // serde's HashMap keeps the last value for a repeated key; so do we.
            out.set(k, value.decode(r));
          }
          return out;
        },
      };
    }
    case 'struct':
      return compileStruct(schema.fields, path);
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Structs are the hot path (one per record in every batch and fetch), so their encoder and decoder
 * are generated as straight-line code: fixed property reads instead of a loop over `record[key]`,
 * and decoded objects built with one literal, so every decoded value of a struct shares one
 * hidden class. The generated source contains only the field names of our own schema tables
 * (checked to be identifiers), never data. Falls back to the interpreted loop otherwise.
 */
function compileStruct(fields: readonly FieldDef[], path: string): Codec {
  const compiled = fields.map(([wireName, schema]) => ({
    key: camelCase(wireName),
    optional: schema.kind === 'option',
    codec: compile(schema, `${path}.${wireName}`),
  }));
  if (compiled.every((f) => IDENTIFIER.test(f.key) && f.key !== '__proto__')) {
    try {
      return generateStruct(compiled, path);
    } catch {
      // A runtime without `Function` (a locked-down sandbox): the interpreted codec below works everywhere.
    }
  }
  return {
    encode: (w, v) => {
      if (typeof v !== 'object' || v === null) encodeError(path, 'object', v);
      const record = v as Record<string, unknown>;
      for (const field of compiled) field.codec.encode(w, record[field.key]);
    },
    decode: (r) => {
      const out: Record<string, unknown> = {};
      for (const field of compiled) {
        const value = field.codec.decode(r);
        // Absent options stay absent, so decoded values compare equal to hand-built ones.
        if (value !== undefined) out[field.key] = value;
      }
      return out;
    },
  };
}

/** Past this many options, decoding adds present options to the object instead of choosing among 2^n literals. */
const MAX_OPTIONS_FOR_LITERALS = 2;

/**
 * Decode every field into a local in wire order, then return one object literal (declaration
 * order, absent options left out). With n ≤ 2 options there are 2^n literal variants, each with
 * a stable hidden class; beyond that, options are added to the object when present.
 */
function generateDecodeBody(fields: readonly { key: string; optional: boolean }[]): string[] {
  const lines = fields.map((_, i) => `const v${i} = c${i}.decode(r);`);
  const optional = fields.map((f, i) => (f.optional ? i : -1)).filter((i) => i >= 0);
  const literal = (present: ReadonlySet<number>) =>
    `{ ${fields
      .map((f, i) => (f.optional && !present.has(i) ? '' : `${f.key}: v${i}`))
      .filter(Boolean)
      .join(', ')} }`;
  if (optional.length <= MAX_OPTIONS_FOR_LITERALS) {
    const branch = (at: number, present: Set<number>): string => {
      if (at === optional.length) return `return ${literal(present)};`;
      const index = optional[at]!;
      const withIt = branch(at + 1, new Set([...present, index]));
      const without = branch(at + 1, present);
      return `if (v${index} !== undefined) { ${withIt} } else { ${without} }`;
    };
    lines.push(branch(0, new Set()));
    return lines;
  }
  lines.push(`const out = ${literal(new Set())};`);
  for (const index of optional) lines.push(`if (v${index} !== undefined) out.${fields[index]!.key} = v${index};`);
  lines.push('return out;');
  return lines;
}

function generateStruct(fields: readonly { key: string; optional: boolean; codec: Codec }[], path: string): Codec {
  const encodeBody = [
    'if (typeof v !== "object" || v === null) fail(v);',
    ...fields.map((f, i) => `c${i}.encode(w, v.${f.key});`),
  ].join('\n');
  const decodeLines = generateDecodeBody(fields);
  const names = fields.map((_, i) => `c${i}`);
  const codecs = fields.map((f) => f.codec);
  const fail = (v: unknown): never => encodeError(path, 'object', v);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from our own schema tables, see above
  const encode = new Function('fail', ...names, `return function encode(w, v) {\n${encodeBody}\n};`)(fail, ...codecs) as Codec['encode'];
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const decode = new Function(...names, `return function decode(r) {\n${decodeLines.join('\n')}\n};`)(...codecs) as Codec['decode'];
  return { encode, decode };
}
