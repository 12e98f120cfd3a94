/**
 * The table of rivvend's error texts (src/server-error-table.ts), checked against rivvend
 * 0.0.22's own source: every `Response::Error` text it builds, every rivven-core error text it
 * forwards, every group-coordinator reason it nests, must hit a rule (not the fallback), and the
 * common ones get the code and retriability users match on.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  RIVVEN_CLIENT_NON_RETRIABLE_PREFIXES,
  SERVER_ERROR_RULES,
  classifyServerError,
  findServerErrorRule,
} from '../../src/server-error-table';
import { AuthenticationError, AuthorizationError, ServerError, errorFromServerMessage } from '../../src/errors';

function crateDir(crate: string): string {
  const cargoHome = process.env.CARGO_HOME ?? join(homedir(), '.cargo');
  const registry = join(cargoHome, 'registry', 'src');
  const found = (existsSync(registry) ? readdirSync(registry) : []).map((index) => join(registry, index, crate, 'src')).find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(`${crate} sources not found under ${registry}: run \`cargo fetch\` in interop/ (npm test's harness build does this)`);
  }
  return found;
}

function rustFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? rustFiles(join(dir, entry.name)) : entry.name.endsWith('.rs') ? [join(dir, entry.name)] : [],
  );
}

/** The file without its unit tests (they build error texts of their own). */
function withoutTests(path: string): string {
  const source = readFileSync(path, 'utf8');
  const cut = source.search(/#\[cfg\(test\)\]\s*mod \w+/);
  return cut < 0 ? source : source.slice(0, cut);
}

/** A Rust string literal's text, with `\`-newline continuations joined and placeholders filled. */
function literalText(raw: string): string {
  return raw
    .replace(/\\\n\s*/g, '')
    .replace(/\\"/g, '"')
    .replace(/\{[^}]*\}/g, '0');
}

const RIVVEND = crateDir('rivvend-0.0.22');
const CORE = crateDir('rivven-core-0.0.22');

/** Every literal text rivvend puts in a `Response::Error { message: … }`. */
function responseErrorTexts(): { text: string; where: string }[] {
  const out: { text: string; where: string }[] = [];
  for (const file of rustFiles(RIVVEND).filter((f) => !f.endsWith('protocol_tests.rs'))) {
    const source = withoutTests(file);
    for (const match of source.matchAll(/Response::Error\s*\{\s*message:\s*(?:format!\(\s*)?"((?:[^"\\]|\\.)*)"/gs)) {
      const line = source.slice(0, match.index).split('\n').length;
      out.push({ text: literalText(match[1]!), where: `${file.slice(RIVVEND.length + 1)}:${line}` });
    }
  }
  return out;
}

describe('server error table against rivvend 0.0.22 source', () => {
  const texts = responseErrorTexts();

  it('finds the Response::Error texts (the extraction works)', () => {
    expect(texts.length).toBeGreaterThan(80);
    expect(texts.map((t) => t.text)).toContain('BUFFER_FULL: Server publish buffer is full, retry later');
    expect(texts.map((t) => t.text)).toContain("Consumer group '0' not found");
  });

  it('has a rule for every Response::Error text rivvend builds', () => {
    const unknown = texts.filter((t) => findServerErrorRule(t.text) === undefined);
    expect(unknown).toEqual([]);
  });

  it("has a rule for every rivven-core error text rivvend forwards with e.to_string()", () => {
    const errorRs = readFileSync(join(CORE, 'error.rs'), 'utf8');
    const displays = [...errorRs.matchAll(/#\[error\("((?:[^"\\]|\\.)*)"\)\]/g)].map((m) => literalText(m[1]!)).filter((t) => t !== '0');
    expect(displays).toEqual(expect.arrayContaining(['Topic not found: 0', 'Partition not found: 0', 'Invalid offset: 0', 'I/O error: 0']));
    const topicRs = withoutTests(join(CORE, 'topic.rs'));
    expect(topicRs).toContain(`"Topic '{}' already exists"`);
    const forwarded = [...displays, literalText("Topic '{}' already exists")];
    expect(forwarded.filter((t) => findServerErrorRule(t) === undefined)).toEqual([]);
  });

  it('has a specific rule for every reason the group coordinator nests behind *_GROUP_FAILED / HEARTBEAT_FAILED', () => {
    const coordinator = withoutTests(join(RIVVEND, 'group_coordinator.rs'));
    const reasons = [...coordinator.matchAll(/format!\(\s*"([A-Z][A-Z_]+: (?:[^"\\]|\\.)*)"/gs)].map((m) => literalText(m[1]!));
    const consumerGroupRs = withoutTests(join(CORE, 'consumer_group.rs'));
    expect(consumerGroupRs).toContain('"Unknown member: {}"');
    reasons.push(literalText('Unknown member: {}'));
    expect(reasons.length).toBeGreaterThanOrEqual(6);
    for (const wrapper of ['JOIN_GROUP_FAILED', 'SYNC_GROUP_FAILED', 'HEARTBEAT_FAILED', 'LEAVE_GROUP_FAILED']) {
      for (const reason of reasons) {
        const rule = findServerErrorRule(`${wrapper}: ${reason}`);
        expect([reason, rule?.code]).toEqual([reason, expect.not.stringMatching(/_FAILED$/)]);
      }
    }
  });

  it('has a specific rule for every TransactionResult rivvend formats with {:?}', () => {
    const source = readFileSync(join(CORE, 'transaction.rs'), 'utf8');
    const start = source.indexOf('pub enum TransactionResult {');
    const body = source.slice(start, source.indexOf('\n}\n', start));
    const variants = [...body.matchAll(/^ {4}([A-Z][A-Za-z]*)/gm)].map((m) => m[1]!).filter((v) => v !== 'Ok');
    expect(variants).toEqual(expect.arrayContaining(['InvalidTransactionId', 'ProducerFenced', 'LogWriteError']));
    for (const wrapper of ['TRANSACTION_ERROR', 'COMMIT_FAILED', 'ABORT_FAILED']) {
      for (const variant of variants) expect([variant, findServerErrorRule(`${wrapper}: ${variant} { x: 1 }`)?.code]).not.toEqual([variant, 'TRANSACTION_ERROR']);
    }
  });
});

describe('server error table', () => {
  it.each(SERVER_ERROR_RULES.map((r) => [r.code, r.example, r] as const))('%s: its example "%s" is decided by it', (_code, example, rule) => {
    expect(findServerErrorRule(example)).toBe(rule);
  });

  it.each([
    ["Topic 'orders' already exists", 'TOPIC_ALREADY_EXISTS'],
    ['Topic not found: orders', 'UNKNOWN_TOPIC_OR_PARTITION'],
    ["UNKNOWN_TOPIC_OR_PARTITION: Topic 'orders' not found", 'UNKNOWN_TOPIC_OR_PARTITION'],
    ["UNKNOWN_TOPIC: topic 'orders' does not exist", 'UNKNOWN_TOPIC'],
    ["Consumer group 'billing' not found", 'UNKNOWN_GROUP'],
    ['INVALID_PARTITION_COUNT: must be between 1 and 1000, got 0', 'INVALID_PARTITION_COUNT'],
    ['INVALID_PARTITION: Invalid partition 7: must be < 2', 'INVALID_PARTITION'],
    ["Partition 7 not found for topic 'orders'", 'UNKNOWN_PARTITION'],
    ['INVALID_TOPIC_NAME: Topic name cannot be empty', 'INVALID_TOPIC_NAME'],
    ['OFFSET_OUT_OF_RANGE: offset 9 exceeds latest offset 1 for partition 0', 'OFFSET_OUT_OF_RANGE'],
    ['HEARTBEAT_FAILED: ILLEGAL_GENERATION: expected 2, got 1', 'ILLEGAL_GENERATION'],
    ['COMMIT_FAILED: ProducerFenced { expected_epoch: 2, received_epoch: 1 }', 'PRODUCER_FENCED'],
  ])('"%s" → %s, not retriable', (message, code) => {
    const error = new ServerError(message, 'Req');
    expect(error.serverCode).toBe(code);
    expect(error.retriable).toBe(false);
  });

  it.each([
    ['BUFFER_FULL: Server publish buffer is full, retry later', 'BUFFER_FULL'],
    ['RATE_LIMIT_EXCEEDED: Too many requests', 'RATE_LIMIT_EXCEEDED'],
    ['WAL_ERROR: I/O error: broken pipe', 'WAL_ERROR'],
    ['UNKNOWN_PRODUCER_ID: producer 1 not initialized', 'UNKNOWN_PRODUCER_ID'],
    ['OUT_OF_ORDER_SEQUENCE: expected 1, got 3', 'OUT_OF_ORDER_SEQUENCE'],
    ["SYNC_GROUP_FAILED: REBALANCE_TIMEOUT: leader did not sync within 30s for group 'g'", 'REBALANCE_TIMEOUT'],
    ['NOT_LEADER_FOR_PARTITION: Not leader for partition 0. Leader is node 2', 'NOT_LEADER_FOR_PARTITION'],
  ])('"%s" → %s, retriable', (message, code) => {
    const error = new ServerError(message);
    expect(error.serverCode).toBe(code);
    expect(error.retriable).toBe(true);
  });

  it("is at least as strict as rivven-client 0.0.22: its non-retriable prefixes stay non-retriable", () => {
    for (const prefix of RIVVEN_CLIENT_NON_RETRIABLE_PREFIXES) {
      expect([prefix, classifyServerError(`${prefix}: something`).retriable]).toEqual([prefix, false]);
    }
    for (const rule of SERVER_ERROR_RULES) {
      if (RIVVEN_CLIENT_NON_RETRIABLE_PREFIXES.some((p) => rule.example.toUpperCase().startsWith(p))) expect([rule.example, rule.retriable]).toEqual([rule.example, false]);
    }
  });

  it("falls back to rivven-client's rule for a text rivvend 0.0.22 does not send", () => {
    expect(classifyServerError('SOMETHING_NEW: later broker')).toEqual({ code: 'SOMETHING_NEW', retriable: true, kind: 'server', hint: undefined });
    expect(classifyServerError('INVALID_REPLICATION_FACTOR: 3')).toMatchObject({ code: 'INVALID_REPLICATION_FACTOR', retriable: false });
    expect(classifyServerError('something went wrong')).toEqual({ code: undefined, retriable: true, kind: 'server', hint: undefined });
  });

  it('says what to do in the message, and keeps the broker text verbatim', () => {
    const error = new ServerError('Topic not found: orders', 'GetMetadata');
    expect(error.serverMessage).toBe('Topic not found: orders');
    expect(error.message).toBe('GetMetadata: broker error: Topic not found: orders (create the topic first (createTopic$), or check its name)');
  });

  it('turns authentication and authorization texts into their own classes', () => {
    const required = errorFromServerMessage('AUTHENTICATION_REQUIRED: Please authenticate first', 'Publish');
    expect(required).toBeInstanceOf(AuthorizationError);
    expect((required as AuthorizationError).serverCode).toBe('AUTHENTICATION_REQUIRED');
    const topic = errorFromServerMessage('TOPIC_AUTHORIZATION_FAILED: no', 'Publish');
    expect(topic).toBeInstanceOf(AuthorizationError);
    expect((topic as AuthorizationError).serverCode).toBe('TOPIC_AUTHORIZATION_FAILED');
    for (const text of ['SCRAM_FAILED: bad proof', 'SASL/PLAIN requires a TLS connection (use SASL_SSL listener). Sending credentials over cleartext is not permitted.', 'UNSUPPORTED_MECHANISM: Only PLAIN is supported, got X']) {
      const error = errorFromServerMessage(text, 'Authenticate');
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.retriable).toBe(false);
    }
    expect(errorFromServerMessage("Topic 'x' already exists", 'CreateTopic')).toBeInstanceOf(ServerError);
  });
});
