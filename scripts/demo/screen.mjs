// The demo's output: event lines, and one live status line. On a terminal the status line is
// redrawn in place (carriage return, a few times a second); anywhere else (CI logs, a pipe, a file)
// it is printed as an ordinary line about once a second, so a log never holds a redraw.

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 5000 → "5,000". */
export function count(n) {
  return int.format(n);
}

/** Milliseconds → "812 ms" / "3.4 s". */
export function duration(ms) {
  return ms < 1_000 ? `${ms.toFixed(0)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/** The p-th percentile (0–100) of unsorted numbers, nearest rank; undefined for none. */
export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export class Screen {
  /**
   * @param {NodeJS.WriteStream} out where to write (process.stdout)
   * @param {{ live?: boolean, plainEveryMs?: number }} options `live`: redraw in place (default: when `out` is a terminal, CI is not set and TERM is not dumb)
   */
  constructor(out, options = {}) {
    this.out = out;
    this.live = options.live ?? (Boolean(out.isTTY) && !process.env.CI && process.env.TERM !== 'dumb');
    this.plainEveryMs = options.plainEveryMs ?? 1_000;
    this.started = performance.now();
    this.drawn = false;
    this.timer = undefined;
  }

  /** Seconds since the demo started, as a fixed-width prefix. */
  stamp() {
    return `${((performance.now() - this.started) / 1_000).toFixed(1).padStart(5)}s`;
  }

  /** An event line (never overwritten). */
  line(text) {
    this.clear();
    this.out.write(`${this.stamp()}  ${text}\n`);
    if (this.live && this.render) this.draw();
  }

  /** Start showing `render()` (a function returning the status text): live, or a line every second. */
  status(render) {
    this.stop();
    this.render = render;
    if (this.live) {
      this.draw();
      this.timer = setInterval(() => this.draw(), 200);
    } else {
      this.timer = setInterval(() => this.out.write(`${this.stamp()}  ${render()}\n`), this.plainEveryMs);
    }
  }

  /** Stop the status line, leaving its last state on screen (live) or printing it once more (plain). */
  stop(final = true) {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.render) return;
    const render = this.render;
    this.render = undefined;
    this.clear();
    if (final) this.out.write(`${this.stamp()}  ${render()}\n`);
  }

  draw() {
    const columns = this.out.columns ?? 200;
    let text = `${this.stamp()}  ${this.render()}`;
    if (text.length > columns - 1) text = `${text.slice(0, columns - 2)}…`;
    this.out.write(`\r${text}\x1b[K`);
    this.drawn = true;
  }

  clear() {
    if (this.live && this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
