/** How errors from either backend are told apart: "cannot serve now" against "refused this value". */

/** The error and the causes it wraps (Drizzle wraps the driver's error), at most three. */
const causes = (err: unknown): Error[] => {
  const chain: Error[] = []
  for (let e = err; e instanceof Error && chain.length < 3; e = e.cause) chain.push(e)
  return chain
}

const UNAVAILABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|NOTADB|CORRUPT)/

/**
 * PostgreSQL: connection exceptions (class 08), too many connections, the server shutting
 * down or starting; and the socket errors of a server that cannot be reached.
 */
const UNAVAILABLE_POSTGRES = /^(08...|53300|57P0[123]|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND)$/

/** What node-postgres says when its pool or connection is gone, with no code to go by. */
const UNAVAILABLE_MESSAGE =
  /^(The database connection is not open|Cannot use a pool after calling end on the pool|Connection terminated( unexpectedly)?|timeout exceeded when trying to connect)$/

/**
 * Errors that mean "the database cannot serve now" (locked past busy_timeout, disk gone or
 * full, connection closed or refused) rather than a bug: the API's 503, and what a process
 * starting waits out. Drizzle may wrap them.
 */
export const databaseUnavailable = (err: unknown): boolean =>
  causes(err).some((e) => {
    const code = (e as { code?: unknown }).code
    return (
      (typeof code === 'string' && (UNAVAILABLE_SQLITE.test(code) || UNAVAILABLE_POSTGRES.test(code))) ||
      UNAVAILABLE_MESSAGE.test(e.message)
    )
  })

/**
 * PostgreSQL refusing a value the client sent, which SQLite stores: a NUL character in text
 * (22021) or in jsonb (22P05), a number beyond its column's range (22003). The client's
 * fault, not the server's: the contract's 400, whatever route let the value through
 * (tests/fuzz/routes.test.ts checks such a rejected request writes nothing).
 */
const REJECTED_VALUE_POSTGRES = new Set(['22021', '22P05', '22003'])

export const databaseRejectedValue = (err: unknown): boolean =>
  causes(err).some((e) => REJECTED_VALUE_POSTGRES.has(String((e as { code?: unknown }).code)))
