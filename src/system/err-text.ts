/**
 * The message of a thrown value, for a log field: Error#message, or the value as text
 * (anything can be thrown in JavaScript, not only Errors).
 */
export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A thrown value as an Error, for a callback or a `cause` that must carry one. */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
