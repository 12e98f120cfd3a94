/**
 * Rebuilds TypeScript protocol values from the JSON the Rust harness writes with serde_json
 * (externally tagged enums, bytes as number arrays, big integers as decimal strings).
 */
import type { VariantDef } from '../../src/protocol/enum-schema';
import { camelCase, type Schema } from '../../src/protocol/schema';

function fail(path: string, expected: string, json: unknown): never {
  throw new Error(`vector JSON at ${path}: expected ${expected}, got ${JSON.stringify(json)}`);
}

function toNumber(path: string, json: unknown): number {
  if (typeof json === 'number') return json;
  if (typeof json === 'string' && /^-?\d+$/.test(json)) return Number(json);
  return fail(path, 'a number', json);
}

function toBigInt(path: string, json: unknown): bigint {
  if (typeof json === 'number' || (typeof json === 'string' && /^-?\d+$/.test(json))) return BigInt(json);
  return fail(path, 'an integer', json);
}

export function fromSerde(schema: Schema, json: unknown, path = '$'): unknown {
  switch (schema.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'usize':
    case 'i32':
      return toNumber(path, json);
    case 'u64':
    case 'i64':
      return toBigInt(path, json);
    case 'bool':
      return typeof json === 'boolean' ? json : fail(path, 'a boolean', json);
    case 'string':
      return typeof json === 'string' ? json : fail(path, 'a string', json);
    case 'bytes':
      if (!Array.isArray(json)) fail(path, 'a byte array', json);
      return Buffer.from(json.map((b, i) => toNumber(`${path}[${i}]`, b)));
    case 'option':
      return json === null ? undefined : fromSerde(schema.inner, json, path);
    case 'vec':
      if (!Array.isArray(json)) fail(path, 'an array', json);
      return json.map((item, i) => fromSerde(schema.item, item, `${path}[${i}]`));
    case 'tuple':
      if (!Array.isArray(json) || json.length !== schema.items.length) fail(path, `a ${schema.items.length}-tuple`, json);
      return schema.items.map((s, i) => fromSerde(s, json[i], `${path}[${i}]`));
    case 'map': {
      if (typeof json !== 'object' || json === null) fail(path, 'an object', json);
      const out = new Map<unknown, unknown>();
      for (const [k, v] of Object.entries(json)) {
        out.set(fromSerde(schema.key, k, `${path}{${k}}`), fromSerde(schema.value, v, `${path}.${k}`));
      }
      return out;
    }
    case 'struct': {
      if (typeof json !== 'object' || json === null) fail(path, 'an object', json);
      const record = json as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [wireName, fieldSchema] of schema.fields) {
        if (!(wireName in record)) fail(`${path}.${wireName}`, 'a field', undefined);
        const value = fromSerde(fieldSchema, record[wireName], `${path}.${wireName}`);
        if (value !== undefined) out[camelCase(wireName)] = value;
      }
      return out;
    }
  }
}

export function fromSerdeEnum(variants: readonly VariantDef[], json: unknown): { type: string } {
  if (typeof json === 'string') {
    const unit = variants.find(([n]) => n === json);
    if (unit === undefined || unit[1].length !== 0) throw new Error(`unknown unit variant ${json}`);
    return { type: json };
  }
  if (typeof json !== 'object' || json === null) throw new Error(`not an enum value: ${JSON.stringify(json)}`);
  const keys = Object.keys(json);
  if (keys.length !== 1) throw new Error(`enum value must have one key: ${JSON.stringify(json)}`);
  const variantName = keys[0]!;
  const def = variants.find(([n]) => n === variantName);
  if (def === undefined) throw new Error(`unknown variant ${variantName}`);
  const body = fromSerde({ kind: 'struct', fields: def[1] }, (json as Record<string, unknown>)[variantName], variantName);
  return { type: variantName, ...(body as object) };
}

/** True when the value holds a map with 2+ entries (Rust serialises those in random order). */
export function hasUnorderedMap(value: unknown): boolean {
  if (value instanceof Map) return value.size > 1 || [...value.values()].some(hasUnorderedMap);
  if (Buffer.isBuffer(value)) return false;
  if (Array.isArray(value)) return value.some(hasUnorderedMap);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasUnorderedMap);
  return false;
}
