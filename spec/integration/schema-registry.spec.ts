/**
 * Schema registration against the real rivven-schema 0.0.22 registry (started here through the
 * harness), plus the hostile-server cases a real registry won't produce (oversized, garbled).
 */
import { createServer, type Server } from 'node:http';
import { firstValueFrom } from 'rxjs';
import { Client } from '../../src/client/client';
import { registerSchema$ } from '../../src/client/schema-registry';
import { SchemaRegistryError } from '../../src/errors';
import { startSchemaRegistry, type HarnessProcess } from '../support/broker-process';
import { rejectionOf } from '../support/rejection';
import { testBroker } from '../support/test-broker';

const userSchema = JSON.stringify({ type: 'record', name: 'User', fields: [{ name: 'id', type: 'long' }] });

let registry: HarnessProcess;
let url: string;
beforeAll(async () => {
  registry = await startSchemaRegistry();
  url = `http://${registry.address}`;
});
afterAll(async () => {
  await registry.stop();
});

/** The SchemaRegistryError the registry refuses with. */
const registryError = (promise: Promise<unknown>) => rejectionOf(promise, SchemaRegistryError);

describe('registerSchema$ against the real rivven-schema registry', () => {
  it('registers an AVRO schema and gets the same id for the same schema', async () => {
    const client = await firstValueFrom(Client.connect$(testBroker().address));
    try {
      const id = await firstValueFrom(client.registerSchema$(url, 'users-value', 'AVRO', userSchema));
      expect(Number.isInteger(id)).toBe(true);
      expect(await firstValueFrom(client.registerSchema$(url, 'users-value', 'AVRO', userSchema))).toBe(id);
    } finally {
      await client.close();
    }
  });

  it('registers a JSON schema under a subject that needs URL encoding', async () => {
    const id = await firstValueFrom(registerSchema$(url, 'orders value/v1', 'JSON', JSON.stringify({ type: 'object' })));
    expect(id).toBeGreaterThanOrEqual(0);
  });

  it('turns a rejected schema into a typed error with the status and the registry’s words', async () => {
    const error = await registryError(firstValueFrom(registerSchema$(url, 'broken-value', 'AVRO', 'this is not avro')));
    expect(error.status).toBeGreaterThanOrEqual(400);
    expect(error.status).toBeLessThan(500);
    expect(error.retriable).toBe(false);
    expect(error.bodyExcerpt.length).toBeGreaterThan(0);
  });

  it('reports an unreachable registry as a retriable typed error', async () => {
    const error = await registryError(firstValueFrom(registerSchema$('http://127.0.0.1:1', 's', 'AVRO', userSchema)));
    expect(error.status).toBe(0);
    expect(error.retriable).toBe(true);
  });
});

describe('registerSchema$ against hostile registries', () => {
  let server: Server;
  let hostile: string;
  let behaviour: (res: import('node:http').ServerResponse) => void;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => behaviour(res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    hostile = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses a response body over 16 MiB and drops the connection', async () => {
    let written = 0;
    let responseClosed!: () => void;
    const closed = new Promise<void>((resolve) => (responseClosed = resolve));
    behaviour = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      res.on('close', responseClosed);
      const pump = () => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const error = await registryError(firstValueFrom(registerSchema$(hostile, 's', 'AVRO', userSchema)));
    expect(error.message).toMatch(/exceeds 16777216 bytes/);
    await closed; // the client hung up: the server stopped long before its 64 MiB
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a 2xx answer without a schema id', async () => {
    behaviour = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"nope": true}');
    const error = await registryError(firstValueFrom(registerSchema$(hostile, 's', 'AVRO', userSchema)));
    expect(error.message).toMatch(/without a schema id/);
  });

  it('carries status and an excerpt of the body for a server error, retriable', async () => {
    behaviour = (res) => res.writeHead(503).end('x'.repeat(10_000));
    const error = await registryError(firstValueFrom(registerSchema$(hostile, 's', 'AVRO', userSchema)));
    expect(error.status).toBe(503);
    expect(error.retriable).toBe(true);
    expect(error.bodyExcerpt.length).toBe(500);
  });

  it('sends URL credentials as Basic auth and never shows them in errors', async () => {
    let authorization: string | undefined;
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      authorization = req.headers.authorization;
      req.resume();
      req.on('end', () => res.writeHead(401).end('{"error_code":40101,"message":"Unauthorized"}'));
    });
    const withCredentials = hostile.replace('http://', 'http://registry-user:s3cret-registry-pw@');
    const error = await registryError(firstValueFrom(registerSchema$(withCredentials, 's', 'AVRO', userSchema)));
    expect(authorization).toBe(`Basic ${Buffer.from('registry-user:s3cret-registry-pw').toString('base64')}`);
    expect(error.status).toBe(401);
    expect(error.message).not.toContain('s3cret-registry-pw');
    expect(JSON.stringify(error)).not.toContain('s3cret-registry-pw');
  });
});
