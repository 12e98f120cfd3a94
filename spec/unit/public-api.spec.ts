/**
 * The public surface is a promise: `rivven-rx` exports what an application uses, the codecs live in
 * `rivven-rx/protocol`, and internals are not exported at all.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as root from '../../src/index';
import * as protocol from '../../src/protocol/index';

describe('public API', () => {
  it('the root exports the components, operators and errors', () => {
    for (const name of ['Client', 'PipelinedClient', 'ResilientClient', 'Producer', 'TransactionalProducer', 'Consumer', 'produceTo', 'commitOffsets', 'transactional', 'RivvenError', 'ConfigError', 'CHANNEL_NAMES']) {
      expect(root).toHaveProperty(name);
    }
  });

  it('the root exports no codec, frame, socket or internal helper', () => {
    for (const name of [
      'encodeRequest',
      'decodeResponse',
      'encodeResponseFrame',
      'FrameDecoder',
      'compressValue',
      'murmur2',
      'Connection',
      'tcpSocketFactory',
      'tlsSocketFactory',
      'resolveResilientConfig',
      'resolveProducerConfig',
      'resolveConsumerConfig',
      'resolvePipelinedClientConfig',
      'resolveClientConfig',
      'resolveConnectionSettings',
      'connectArguments',
      'InFlightLimiter',
      'connectToAny',
      'connectToAny$',
      'PinnedLanes',
      'PartitionLanes',
      'ServerRotation',
      'resolveRetryPolicy',
      'REQUEST_RETRY_CLASS',
      'CircuitBreaker',
      'exponentialDelay',
      'rejoinReasonOf',
      'errorFromServerMessage',
      'SERVER_ERROR_RULES',
      'findServerErrorRule',
    ]) {
      expect(root).not.toHaveProperty(name);
    }
  });

  it('the root exports no test seam or internal type (types leave no trace at run time, so the barrel is read)', () => {
    const barrel = readFileSync(join(__dirname, '..', '..', 'src', 'index.ts'), 'utf8');
    expect(barrel).toMatch(/\bConnectionSettings\b/);
    for (const name of ['ConnectionSeam', 'LaneConnector', 'RandomSource', 'ServerErrorRule', 'ResponseFrame', 'AuthSession']) {
      expect(barrel).not.toMatch(new RegExp(`\\b${name}\\b`));
    }
  });

  it('rivven-rx/protocol has the codecs and is declared as a subpath export', () => {
    for (const name of ['encodeRequest', 'decodeResponse', 'requestToWire', 'parseFrameBody', 'FrameDecoder', 'compressValue', 'decompressValue', 'decodeValues', 'murmur2Partition']) {
      expect(protocol).toHaveProperty(name);
    }
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { exports: Record<string, { import: string; types: string }> };
    expect(pkg.exports['./protocol']).toEqual({ types: './dist/protocol/index.d.ts', import: './dist/protocol/index.js' });
  });
});
