import type { Cancel, Connection, Frame, Revocation } from './history.js'
import { type CallInit, callApi, type Outcome, outcome } from './http.js'
import type { Rng } from './prng.js'
import { openStream, type StreamHandle } from './sse.js'
import type { Topology } from './topology.js'

export const ADMIN = { email: 'chaos-admin@example.com', password: 'chaos-admin-password-42' }
const PASSWORD = 'chaos-user-password-42'
const CATALOGUE = ['hibernation.self', 'transactions.read', 'reports.view', 'reports.export', 'billing.manage']
/** Revoked streams the server has not ended are closed by the client after this. */
const REVOKED_WATCH_MS = 10_000
const MAX_STALLED = 3

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Records of a workload run, filled while it runs. */
export type WorkloadRecord = {
  connections: Connection[]
  cancels: Cancel[]
  revocations: Revocation[]
  neverReadTransactions: string[]
  ops: Map<string, number>
  actors: { client: string; userId: string }[]
}

/**
 * Seeded users: each one an actor doing one operation at a time (so a cancel knows which
 * hibernation it cancelled) while its stream stays open and reconnects on its own.
 */
export const createWorkload = (topo: Topology, rng: Rng, opts: { users: number }) => {
  const record: WorkloadRecord = {
    connections: [],
    cancels: [],
    revocations: [],
    neverReadTransactions: [],
    ops: new Map(),
    actors: [],
  }
  const count = (kind: string, outcome: Outcome) => {
    const key = `${kind} ${outcome}`
    record.ops.set(key, (record.ops.get(key) ?? 0) + 1)
  }
  let stopping = false
  let finished = false
  let connectionIds = 0
  let stalled = 0
  const handles = new Set<StreamHandle>()

  const call = (r: Rng, path: string, init: CallInit = {}) => callApi(topo.entry(r).url, path, init)

  /** Signs in, retrying through faults until it works or the run stops. */
  const login = async (r: Rng, email: string, password: string) => {
    for (let attempt = 0; !finished; attempt++) {
      const res = await call(r, '/api/auth/login', { method: 'POST', json: { email, password } })
      count('login', outcome(res.status))
      if (res.status === 200 && res.cookie) return res.cookie
      await sleep(Math.min(2000, 100 * 2 ** attempt))
    }
    return ''
  }

  let adminCookie = ''
  const adminCall = async (r: Rng, path: string, init: { method: string; json?: unknown }) => {
    let res = await call(r, path, { ...init, cookie: adminCookie })
    if (res.status === 401) {
      adminCookie = await login(r, ADMIN.email, ADMIN.password)
      res = await call(r, path, { ...init, cookie: adminCookie })
    }
    return res
  }

  const stream = (
    client: string,
    userId: string,
    cookie: string,
    lastEventId: string | undefined,
    r: Rng,
    onFrame?: (frame: Frame) => void,
  ) => {
    const { via, url } = topo.entry(r)
    const conn: Connection = {
      id: ++connectionIds,
      client,
      userId,
      cookie,
      via,
      ...(lastEventId === undefined ? {} : { lastEventId }),
      openedAt: Date.now(),
      status: 0,
      frames: [],
      stalled: false,
    }
    record.connections.push(conn)
    const handle = openStream(`${url}/api/events`, conn, onFrame)
    handles.add(handle)
    void handle.ended.then(() => handles.delete(handle))
    return handle
  }

  const actor = async (i: number, userId: string, email: string, neverReads: boolean) => {
    // Decisions come from `r`; API picks, sign-in retries and reconnect delays from `net`,
    // whose draws depend on faults: so a replay makes the same decisions in the same order.
    const r = rng.fork(`user${i}`)
    const net = rng.fork(`user${i}-net`)
    const client = `user${i}`
    let cookie = await login(net, email, PASSWORD)
    const seen: string[] = []
    let current: StreamHandle | undefined
    let known: { id: string; endsAt: number } | undefined

    const connect = (lastEventId: string | undefined) => {
      const handle = stream(client, userId, cookie, lastEventId, net, (f) => f.id !== undefined && seen.push(f.id))
      current = handle
      const onEnd = async () => {
        if (current !== handle || finished) return
        await sleep(net.int(100, 800))
        if (current !== handle || finished) return
        if (handle.conn.status === 401) {
          cookie = await login(net, email, PASSWORD)
          // A logout may have replaced the stream while this sign-in waited.
          if (current !== handle || finished) return
        }
        connect(handle.conn.status === 401 ? undefined : seen.at(-1))
      }
      void handle.ended.then(onEnd)
    }
    connect(undefined)

    const ops: [number, () => Promise<void>][] = [
      [
        2,
        async () => {
          const choice = r.next()
          const point = r.next()
          const from =
            choice < 0.25 || seen.length === 0
              ? undefined
              : choice < 0.75
                ? seen[Math.floor(point * seen.length)]
                : seen.at(-1)
          const old = current
          current = undefined
          old?.close()
          connect(from)
          count('reconnect', 'ok')
        },
      ],
      [
        3,
        async () => {
          const self = r.chance(0.5)
          const durationMs = r.int(1000, 5000)
          const res = self
            ? await call(net, '/api/me/hibernation', { method: 'POST', cookie })
            : await adminCall(net, `/api/users/${userId}/hibernation`, {
                method: 'POST',
                json: { durationMs },
              })
          count(self ? 'hibernate.self' : 'hibernate.admin', outcome(res.status))
          const h = (res.body.user as { hibernation?: { id: string; endsAt: string } } | undefined)?.hibernation
          // An unknown outcome leaves us not knowing which hibernation a later cancel hits.
          known = res.status === 201 && h ? { id: h.id, endsAt: Date.parse(h.endsAt) } : undefined
        },
      ],
      [
        2,
        async () => {
          const racing = r.chance(0.4)
          const offset = r.int(-150, 50)
          const race = known !== undefined && racing
          if (race && known) await sleep(Math.max(0, known.endsAt + offset - Date.now()))
          const self = r.chance(0.5)
          const target = known
          const res = self
            ? await call(net, '/api/me/hibernation', { method: 'DELETE', cookie })
            : await adminCall(net, `/api/users/${userId}/hibernation`, { method: 'DELETE' })
          count(race ? 'cancel.racing' : 'cancel', outcome(res.status))
          if (res.status === 200 && target)
            record.cancels.push({ userId, hibernationId: target.id, returnedAt: Date.now() })
          if (res.status !== 0) known = undefined
        },
      ],
      [
        2,
        async () => {
          const names = CATALOGUE.filter((p) => !(neverReads && p === 'transactions.read') && r.chance(0.6))
          const res = await adminCall(net, `/api/users/${userId}/permissions`, {
            method: 'PUT',
            json: { permissions: names },
          })
          count('permissions', outcome(res.status))
        },
      ],
      [
        0.5,
        async () => {
          const res = await call(net, '/api/auth/logout', { method: 'POST', cookie })
          count('logout', outcome(res.status))
          if (res.status !== 204) return
          record.revocations.push({ userId, cookie, returnedAt: Date.now() })
          const revoked = current
          current = undefined
          if (revoked) setTimeout(() => revoked.close(), REVOKED_WATCH_MS).unref()
          cookie = await login(net, email, PASSWORD)
          connect(seen.at(-1))
        },
      ],
      [
        0.3,
        async () => {
          if (stalled >= MAX_STALLED) return
          stalled += 1
          const handle = stream(`${client}-stalled${stalled}`, userId, cookie, undefined, net)
          await handle.opened
          handle.stall()
          count('stall', 'ok')
        },
      ],
    ]
    while (!stopping) {
      await sleep(r.int(100, 900))
      await r.weighted(ops)()
    }
  }

  let running: Promise<unknown>[] = []
  return {
    record,
    /** Signs the admin in, creates the users and starts their actors. */
    start: async () => {
      const r = rng.fork('setup')
      adminCookie = await login(r, ADMIN.email, ADMIN.password)
      for (let i = 0; i < opts.users; i++) {
        const neverReads = i % 3 === 2
        const email = `chaos-user${i}@example.com`
        const permissions = neverReads ? ['hibernation.self'] : ['hibernation.self', 'transactions.read']
        const res = await adminCall(r, '/api/users', {
          method: 'POST',
          json: { email, password: PASSWORD, permissions },
        })
        const id = (res.body.user as { id?: string } | undefined)?.id
        if (res.status !== 201 || !id)
          throw new Error(`creating a user failed: ${res.status} ${JSON.stringify(res.body)}`)
        if (neverReads) record.neverReadTransactions.push(id)
        record.actors.push({ client: `user${i}`, userId: id })
        running.push(actor(i, id, email, neverReads))
      }
    },
    /** Stops new operations; streams stay open and keep reconnecting. */
    stopOperations: async () => {
      stopping = true
      await Promise.all(running)
      running = []
    },
    /** Highest version each actor's streams have shown so far. */
    versionsSeen: () => {
      const seen = new Map<string, number>()
      for (const conn of record.connections) {
        if (conn.client.includes('-')) continue
        for (const f of conn.frames) {
          const v = (f.data as { user?: { version?: number } } | undefined)?.user?.version
          if (v !== undefined) seen.set(conn.userId, Math.max(seen.get(conn.userId) ?? 0, v))
        }
      }
      return seen
    },
    openStreams: () => handles.size,
    frames: () => record.connections.reduce((sum, c) => sum + c.frames.length, 0),
    closeAll: () => {
      finished = true
      for (const handle of handles) handle.close()
    },
  }
}

export type Workload = ReturnType<typeof createWorkload>
export type { Frame }
