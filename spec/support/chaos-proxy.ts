/**
 * Chaos for tests: a FaultProxy whose connections end after a random short lifetime, plus random
 * latency / reset / blackhole episodes (the chaos run, spec/chaos/, and its unit spec).
 */
import { FaultProxy, type ProxyStats } from './fault-proxy';

/** One kind of episode a ChaosProxy may inject, with how long it lasts. */
export type ChaosEpisode =
  /** Every chunk delayed by `ms` for `durationMs`. */
  | { kind: 'latency'; ms: number; durationMs: number }
  /** RST every open connection (new ones are accepted again at once). */
  | { kind: 'reset' }
  /** Nothing forwarded either way for `durationMs` (connections stay open, replies never come). */
  | { kind: 'blackhole'; durationMs: number };

export interface ChaosProxyOptions {
  /** Fixed listening port (default: a free one). */
  port?: number;
  /** Every connection ends after a random lifetime in this range (ms). Default 1,000–4,000; `false`: never. */
  lifetime?: { minMs: number; maxMs: number; how?: 'close' | 'reset' | 'mixed' } | false;
  /** Episodes picked at random, one every `everyMs` (a random time in the range). Default: none. */
  episodes?: { everyMs: { minMs: number; maxMs: number }; choices: readonly ChaosEpisode[] };
  /** A [0, 1) generator, for replayable runs. Default Math.random. */
  random?: () => number;
}

export interface ChaosStats extends ProxyStats {
  /** Connections ended by their lifetime. */
  connectionsKilled: number;
  /** Episodes started, by kind. */
  episodes: Record<ChaosEpisode['kind'], number>;
}

/**
 * A FaultProxy in chaos mode (franz-go's `KGO_TEST_CHAOS` dialer, plus episodes): every
 * connection is ended after a random short lifetime, and, if asked, random latency, reset and
 * blackhole episodes come and go. `pause()` stops both (connections live again, the fault is
 * `pass`), `resume()` starts them again. The underlying `proxy` is reachable for one-off faults.
 */
export class ChaosProxy {
  private episodeTimer: ReturnType<typeof setTimeout> | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private readonly random: () => number;
  private readonly counts: Record<ChaosEpisode['kind'], number> = { latency: 0, reset: 0, blackhole: 0 };

  private constructor(
    readonly proxy: FaultProxy,
    private readonly options: ChaosProxyOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  static async start(target: string | { host: string; port: number }, options: ChaosProxyOptions = {}): Promise<ChaosProxy> {
    const proxy = await FaultProxy.start(target, options.port === undefined ? {} : { port: options.port });
    const chaos = new ChaosProxy(proxy, options);
    chaos.resume();
    return chaos;
  }

  get address(): string {
    return this.proxy.address;
  }

  get port(): number {
    return this.proxy.port;
  }

  get active(): boolean {
    return this.running;
  }

  stats(): ChaosStats {
    return { ...this.proxy.stats(), connectionsKilled: this.proxy.connectionsKilled, episodes: { ...this.counts } };
  }

  /** Start (again) ending connections and injecting episodes. */
  resume(): void {
    if (this.running) return;
    this.running = true;
    const lifetime = this.options.lifetime ?? { minMs: 1_000, maxMs: 4_000 };
    if (lifetime !== false) this.proxy.setConnectionLifetime({ ...lifetime, random: this.random });
    this.scheduleEpisode();
  }

  /** Stop the chaos: connections live, the current episode ends now. */
  async pause(): Promise<void> {
    this.running = false;
    clearTimeout(this.episodeTimer);
    clearTimeout(this.endTimer);
    this.proxy.setConnectionLifetime(undefined);
    if (this.proxy.currentFault.kind !== 'pass') await this.proxy.restore();
  }

  async close(): Promise<void> {
    await this.pause();
    await this.proxy.close();
  }

  private scheduleEpisode(): void {
    const episodes = this.options.episodes;
    if (!this.running || episodes === undefined || episodes.choices.length === 0) return;
    const wait = episodes.everyMs.minMs + this.random() * (episodes.everyMs.maxMs - episodes.everyMs.minMs);
    this.episodeTimer = setTimeout(() => void this.runEpisode(episodes.choices[Math.floor(this.random() * episodes.choices.length)]!), wait);
    this.episodeTimer.unref?.();
  }

  private async runEpisode(episode: ChaosEpisode): Promise<void> {
    if (!this.running) return;
    this.counts[episode.kind]++;
    if (episode.kind === 'reset') {
      await this.proxy.reset();
      await this.proxy.restore();
      this.scheduleEpisode();
      return;
    }
    await (episode.kind === 'latency' ? this.proxy.latency(episode.ms) : this.proxy.blackhole());
    this.endTimer = setTimeout(() => {
      if (!this.running) return;
      void this.proxy.restore().then(() => this.scheduleEpisode());
    }, episode.durationMs);
    this.endTimer.unref?.();
  }
}
