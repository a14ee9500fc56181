import type { SQLITE_FUNCTIONS } from './sqlite/store.js'

type Functions = typeof SQLITE_FUNCTIONS
type Async<F> = F extends (db: never, ...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never

/**
 * The data functions the apps call, one implementation per backend behind them. The
 * signatures are the SQLite backend's (sqlite/store.ts), each made async; the PostgreSQL
 * backend (postgres/store.ts) implements the same ones.
 */
export type Store = { [K in keyof Functions]: Async<Functions[K]> } & {
  readonly dialect: 'sqlite' | 'postgres'
  close(): Promise<void>
}
