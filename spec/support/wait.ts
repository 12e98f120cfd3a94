/** Poll `predicate` every 20 ms until it holds; reject naming `what` after `timeoutMs`. */
export function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (predicate()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`${what}: not within ${timeoutMs} ms`));
      }
    }, 20);
  });
}
