/**
 * Schema registration against a Confluent-compatible registry (rivven-schema included):
 * `POST {url}/subjects/{subject}/versions` with Node's own HTTP stack. The response body is
 * bounded; credentials in the URL are sent as Basic auth and never appear in errors.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Observable } from 'rxjs';
import { ConfigError, SchemaRegistryError } from '../errors.js';
import type { SchemaType } from './client-types.js';

/** Options of `registerSchema$`. */
export interface SchemaRegistryOptions {
  /** Whole-request timeout. Default 30,000 ms. */
  timeoutMs?: number;
  /** Larger response bodies are refused and the connection dropped. Default 16 MiB. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const EXCERPT_CHARS = 500;

/**
 * Register `schema` under `subject` in a Confluent-compatible schema registry (rivven-schema included)
 * and emit its id; registering the same schema again gives the same id. A refusal or an unreachable
 * registry is a `SchemaRegistryError` (retriable for no answer, HTTP 429 and 5xx); a URL that is not
 * http(s) or an empty subject is a `ConfigError`.
 */
export function registerSchema$(
  registryUrl: string,
  subject: string,
  schemaType: SchemaType,
  schema: string,
  options: SchemaRegistryOptions = {},
): Observable<number> {
  return new Observable<number>((subscriber) => {
    let url: URL;
    try {
      url = new URL(registryUrl);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      subscriber.error(new ConfigError('registryUrl', 'expected an http:// or https:// URL'));
      return;
    }
    if (subject.length === 0) {
      subscriber.error(new ConfigError('subject', 'must not be empty'));
      return;
    }
    const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const basePath = url.pathname.replace(/\/+$/, '');
    const path = `${basePath}/subjects/${encodeURIComponent(subject)}/versions`;
    // What errors may show: origin and path, never the userinfo part of the URL.
    const where = `${url.origin}${path}`;
    const body = JSON.stringify({ schema, schemaType });
    const headers: Record<string, string> = {
      'content-type': 'application/vnd.schemaregistry.v1+json',
      accept: 'application/vnd.schemaregistry.v1+json, application/json',
      'content-length': String(Buffer.byteLength(body)),
    };
    if (url.username || url.password) {
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const fail = (error: SchemaRegistryError) => {
      if (settled) return;
      settled = true;
      req.destroy();
      subscriber.error(error);
    };
    const req = send(
      { protocol: url.protocol, hostname: url.hostname, port: url.port || undefined, method: 'POST', path: path + url.search, headers },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBytes) {
            fail(new SchemaRegistryError(`schema registry response from ${where} exceeds ${maxBytes} bytes; refused`, res.statusCode ?? 0, ''));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) => fail(new SchemaRegistryError(`schema registry response from ${where} broke off: ${error.message}`, 0, '')));
        res.on('end', () => {
          if (settled) return;
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          const excerpt = text.slice(0, EXCERPT_CHARS);
          if (status < 200 || status > 299) {
            fail(new SchemaRegistryError(`schema registry ${where} answered HTTP ${status}: ${excerpt}`, status, excerpt));
            return;
          }
          let id: unknown;
          try {
            id = (JSON.parse(text) as { id?: unknown }).id;
          } catch {
            id = undefined;
          }
          if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
            fail(new SchemaRegistryError(`schema registry ${where} answered without a schema id: ${excerpt}`, status, excerpt));
            return;
          }
          settled = true;
          subscriber.next(id);
          subscriber.complete();
        });
      },
    );
    req.setTimeout(timeoutMs, () => fail(new SchemaRegistryError(`schema registry ${where} did not answer within ${timeoutMs} ms`, 0, '')));
    req.on('error', (error) => fail(new SchemaRegistryError(`schema registry ${where} unreachable: ${error.message}`, 0, '', { cause: error })));
    req.end(body);
    return () => {
      if (!settled) {
        settled = true;
        req.destroy();
      }
    };
  });
}
