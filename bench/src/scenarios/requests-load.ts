import type { Agent } from 'node:http'
import { now, quantile, sleep, sortedNumbers } from '../clock.js'
import { callJson, keepAliveAgent } from '../fixtures.js'
import type { SeededUser } from '../seed.js'
import type { Sut } from '../servers/process.js'
import type { RequestsSize } from './requests.js'

export const SETS = [
  ['hibernation.self', 'transactions.read'],
  ['hibernation.self', 'transactions.read', 'reports.view'],
] as const

/**
 * Open-loop background load at `perSecond`: mostly authenticated GETs, some admin permission
 * changes on other users and some pages of the user list. Requests go out on schedule whether
 * or not earlier ones have answered (up to 512 in flight), as independent clients would send them.
 */
const background = (sut: Sut, admin: string, users: SeededUser[], perSecond: number) => {
  const agent = keepAliveAgent(64)
  const started = performance.now()
  let sent = 0
  let answered = 0
  let inFlight = 0
  let running = true
  const send = (i: number) => {
    const u = users[i % users.length] as SeededUser
    const kind = i % 20
    inFlight += 1
    const done = () => {
      inFlight -= 1
      answered += 1
    }
    const request =
      kind === 0
        ? callJson(agent, sut.port, 'GET', '/api/users?limit=50', { cookie: admin })
        : kind < 3
          ? callJson(agent, sut.port, 'PUT', `/api/users/${u.id}/permissions`, {
              cookie: admin,
              body: { permissions: SETS[i % 2] },
            })
          : callJson(agent, sut.port, 'GET', '/api/me', { cookie: u.cookie })
    request.then(done, done)
  }
  const loop = (async () => {
    while (running) {
      const due = Math.floor(((performance.now() - started) / 1000) * perSecond)
      while (sent < due && inFlight < 512) send(sent++)
      await sleep(1)
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      const seconds = (performance.now() - started) / 1000
      agent.destroy()
      return answered / seconds
    },
  }
}

/**
 * Change → stream latency: an admin PUT of permissions at t, its user.updated frame at the
 * user's stream socket at t′, one change at a time. The floor has no streams; its PUT round
 * trip under the same load is reported beside, as the least a change can take.
 */
export const underLoad = async (o: {
  api: Sut
  floor: Sut
  agent: Agent
  admin: string
  streamUsers: SeededUser[]
  others: SeededUser[]
  waiters: Map<number, (at: number) => void>
  size: RequestsSize
  loaded: boolean
  changes: number
}) => {
  const run = async (sut: Sut, viaStream: boolean) => {
    const load = o.loaded ? background(sut, o.admin, o.others, o.size.loadPerSecond) : undefined
    const latencies: number[] = []
    for (let j = 0; j < o.changes; j++) {
      const index = j % o.streamUsers.length
      const user = o.streamUsers[index] as SeededUser
      const frame = viaStream
        ? new Promise<number>((resolve) => {
            const timer = setTimeout(() => resolve(Number.NaN), 2000)
            o.waiters.set(index, (at) => {
              clearTimeout(timer)
              resolve(at)
            })
          })
        : undefined
      const sentAt = now()
      const res = await callJson(o.agent, sut.port, 'PUT', `/api/users/${user.id}/permissions`, {
        cookie: o.admin,
        body: { permissions: SETS[Math.floor(j / o.streamUsers.length) % 2] },
      })
      const answeredAt = now()
      const at = frame ? await frame : answeredAt
      o.waiters.delete(index)
      if (res.status === 200 && Number.isFinite(at)) latencies.push(at - sentAt)
      await sleep(5)
    }
    const achievedPerSecond = (await load?.stop()) ?? 0
    const sorted = sortedNumbers(latencies)
    return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), received: latencies.length, achievedPerSecond }
  }
  const api = await run(o.api, true)
  const floor = await run(o.floor, false)
  return {
    loaded: o.loaded,
    changes: o.changes,
    ...api,
    floorP50: floor.p50,
    floorP99: floor.p99,
    floorAchievedPerSecond: floor.achievedPerSecond,
  }
}
