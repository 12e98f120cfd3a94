import { ConfigError } from '../../src/errors';

/** The error a promise rejects with; fails the test if it resolves instead. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

/** The ConfigError `run` throws (not retriable); fails the test if it throws nothing or something else. */
export function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).retriable).toBe(false);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
