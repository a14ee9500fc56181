/** What a campaign records while it runs, and what the checker reads afterwards. */

/** One SSE event as the client saw it (comments are not recorded). */
export type Frame = { id?: string; event: string; data: unknown; at: number }

/** One HTTP response carrying an SSE stream, from open to close. */
export type Connection = {
  id: number
  /** The logical client (one per user actor; stalled and revoked streams have their own). */
  client: string
  userId: string
  /** The session cookie it was opened with. */
  cookie: string
  /** Where it was opened: the balancer, or the API it went to directly. */
  via: string
  lastEventId?: string
  openedAt: number
  status: number
  frames: Frame[]
  closedAt?: number
  closedBy?: 'client' | 'server'
  /** A client that stopped reading on purpose: its stream may lag or be closed by the server. */
  stalled: boolean
}

/** A cancel that returned 200: that hibernation must never complete. */
export type Cancel = { userId: string; hibernationId: string; returnedAt: number }

/** A logout that returned 204: that session's streams must end within the bound. */
export type Revocation = { userId: string; cookie: string; returnedAt: number }

export type DbEvent = { id: number; userId: string; type: string; data: unknown; createdAt: number }
export type DbHibernation = {
  id: string
  userId: string
  status: 'scheduled' | 'completed' | 'cancelled'
  endsAt: number
  finishedAt: number | null
}

/** The database read (read-only) at the end of the run: the source of truth. */
export type DbState = {
  events: DbEvent[]
  hibernations: DbHibernation[]
  /** Count of history rows per hibernation id. */
  historyRows: Map<string, number>
  /** Each user's version at the end. */
  versions: Map<string, number>
}

export type History = {
  heartbeatMs: number
  connections: Connection[]
  cancels: Cancel[]
  revocations: Revocation[]
  /** Users who never held `transactions.read` during the run. */
  neverReadTransactions: string[]
  /** Highest RSS seen per process, and the documented bound. */
  rss: { process: string; maxBytes: number }[]
  rssBoundBytes: number
  /** When faults and workload stopped and timers drained; final versions were read then. */
  quiescedAt: number
  /** Clients whose stream was open at quiescence: each must reach its user's final version. */
  finalClients: { client: string; userId: string }[]
  finalDeadlineMs: number
}

export type ViolationKind = 'timers' | 'order' | 'final-state' | 'isolation' | 'revocation' | 'memory'
export type Violation = { kind: ViolationKind; detail: string }
