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

/**
 * The error a promise rejects with, checked to be a `type` (ServerError, RivvenError, …); fails the
 * test if the promise resolves, or rejects with something else.
 */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(type);
  return error as E;
}
