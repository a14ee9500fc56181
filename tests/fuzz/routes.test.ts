import { queryDb, testBackend } from '@dormant/testing'
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startTestApi, type TestApi } from '../../apps/api/src/testing.js'
import { report } from '../faults/support.js'

/** Property-based hostile input against every route of a real API: never a 5xx, always the error shape. */

let api: TestApi
let cookies: { admin: string; user: string; other: string }
let ids: { user: string; other: string; admin: string }
/** On PostgreSQL, the one connection the snapshots read through. */
let reader: pg.Client | undefined

beforeAll(async () => {
  api = await startTestApi()
  if (testBackend() === 'postgres') {
    reader = new pg.Client({ connectionString: api.database })
    await reader.connect()
  }
  const user = await api.newUser()
  const other = await api.newUser()
  const admin = await api.adminCookie()
  const me = (await (await api.call('/api/me', { cookie: admin })).json()) as { user: { id: string } }
  cookies = { admin, user: user.cookie, other: other.cookie }
  ids = { user: user.id, other: other.id, admin: me.user.id }
})
afterAll(async () => {
  await reader?.end()
  await api?.stop()
})

/**
 * Reads rows beneath the API. On PostgreSQL through one connection for the whole run:
 * `queryDb` connects per statement (~35 ms on a busy machine, a server process each), and
 * two snapshots of four statements per case spent the time budget connecting, not testing.
 */
const read = async (sql: string) => (reader ? (await reader.query(sql)).rows : queryDb(api.database, sql))

/** What a rejected request must leave untouched (sessions are excluded: a login creates one). */
const snapshot = async () => {
  const tables = []
  // One after the other: the PostgreSQL reader is one connection.
  for (const sql of [
    'select * from users order by id',
    'select * from hibernations order by id',
    'select * from transactions order by id',
    'select max(id) as id, cast(count(*) as integer) as n from events',
  ])
    tables.push(await read(sql))
  return JSON.stringify(tables)
}

const smallString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('', ' ', '\u0000', '../../etc/passwd', '%00', "' or 1=1 --", '<script>', '\u202e', '🙂'.repeat(40)),
)
const hugeString = fc.nat({ max: 120_000 }).map((n) => 'é'.repeat(n))
const hostileString = fc.oneof({ weight: 3, arbitrary: smallString }, hugeString)
const queryString = fc.oneof({ weight: 12, arbitrary: smallString }, hugeString)

const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-1, 0, 999, 1000, 31_536_000_000, 31_536_000_001, 1e308, -1e308, 2 ** 53 + 1, 0.5, -0),
)

const hostileJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record(
    {
      email: fc.oneof(hostileString, fc.jsonValue(), fc.emailAddress()),
      password: fc.oneof(hostileString, fc.jsonValue()),
      name: fc.oneof(hostileString, fc.jsonValue()),
      role: fc.oneof(fc.constantFrom('user', 'admin', 'root', ''), fc.jsonValue()),
      permissions: fc.oneof(
        fc.array(fc.oneof(fc.constantFrom('reports.view', 'hibernation.self', 'root'), hostileString), {
          maxLength: 200,
        }),
        fc.jsonValue(),
      ),
      durationMs: fc.oneof(hostileNumber, hostileString, fc.jsonValue()),
      __proto__: fc.jsonValue(),
      constructor: fc.jsonValue(),
    },
    { requiredKeys: [] },
  ),
)

/** Raw bodies: JSON of any shape, broken JSON, very deep nesting, huge bodies. */
const hostileBody = fc.oneof(
  { weight: 4, arbitrary: hostileJson.map((v) => JSON.stringify(v) ?? 'null') },
  fc.string({ maxLength: 100 }),
  fc.constantFrom('{', '{"a":', 'NaN', 'Infinity', '{"durationMs": NaN}', '\uFEFF{}', '[]', 'null', '""', '0'),
  fc.nat({ max: 40_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.nat({ max: 20_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
)

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/jsonx',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  undefined,
)

const pathId = fc.oneof(
  fc.constantFrom('other', 'user', 'admin').map((who) => ids[who as keyof typeof ids]),
  fc.constantFrom('usr_nope', 'x'.repeat(65), 'x'.repeat(5000), '..', '%2e%2e', '%00', '%F0%9F%99%82', 'a%2Fb'),
  fc.string({ minLength: 1, maxLength: 80 }).map(encodeURIComponent),
)

const who = fc.constantFrom('admin', 'user', 'other', 'none', 'garbage')
const cookieFor = (w: string) =>
  w === 'none'
    ? undefined
    : w === 'garbage'
      ? `dormant_session=${'A'.repeat(40)}`
      : `${cookies[w as keyof typeof cookies]}`

const isErrorShape = (body: unknown) => {
  const error = (body as { error?: { code?: unknown; message?: unknown } })?.error
  return typeof error?.code === 'string' && typeof error.message === 'string'
}

type Sent = {
  method: string
  path: string
  as: string
  type: string | undefined
  body: string | undefined
  /** The body fields the route takes; none when it takes no body. */
  fields?: readonly string[]
}

/**
 * Whether any route could accept this body: none, an empty one, or a JSON object holding
 * only the route's fields. A leading BOM is tolerated, as RFC 8259 allows.
 */
const wellFormed = (body: string | undefined, fields: readonly string[] = []) => {
  if (body === undefined || body.trim() === '') return true
  let value: unknown
  try {
    value = JSON.parse(body.replace(/^\uFEFF/, ''))
  } catch {
    return false
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  return Object.keys(value).every((key) => fields.includes(key))
}

/** Sends one request and checks the invariants; returns the status. */
const send = async (req: Sent) => {
  const before = await snapshot()
  const headers: Record<string, string> = {}
  if (req.type) headers['content-type'] = req.type
  const cookie = cookieFor(req.as)
  const res = await api.call(req.path, { method: req.method, headers, body: req.body, ...(cookie ? { cookie } : {}) })
  const text = await res.text()
  const what = `${req.method} ${req.path.slice(0, 120)} as ${req.as} (${req.type}) → ${res.status} ${text.slice(0, 200)}`
  expect(res.status, what).toBeLessThan(500)
  if (res.status >= 400) {
    expect(res.headers.get('content-type'), what).toMatch(/^application\/json/)
    expect(isErrorShape(JSON.parse(text)), what).toBe(true)
  }
  // Accepted or not, hostile input (broken JSON, unknown fields) and reads write nothing;
  // and hostile input is never accepted.
  const hostile = !wellFormed(req.body, req.fields)
  if (res.status >= 400 || hostile || req.method === 'GET')
    expect(await snapshot(), `state changed on ${what}`).toBe(before)
  if (hostile) expect(res.status, `hostile body accepted: ${what}`).toBeGreaterThanOrEqual(400)
  // Whoever the caller, nobody but an admin ever reads or changes someone else's data.
  if (res.status < 300 && req.path.startsWith('/api/users')) expect(req.as, what).toBe('admin')
  return res.status
}

const MUTATIONS = [
  ['POST', '/api/auth/login'],
  ['POST', '/api/me/hibernation'],
  ['DELETE', '/api/me/hibernation'],
  ['POST', '/api/users'],
  ['PUT', '/api/users/:id/permissions'],
  ['POST', '/api/users/:id/hibernation'],
  ['DELETE', '/api/users/:id/hibernation'],
  ['POST', '/api/auth/logout'],
  ['PATCH', '/api/me'],
  ['POST', '/api/users/:id'],
] as const

/** The fields each mutating route's body takes; the others take no body. */
const FIELDS: Record<string, readonly string[]> = {
  'POST /api/auth/login': ['email', 'password'],
  'POST /api/users': ['email', 'password', 'name', 'role', 'permissions'],
  'PUT /api/users/:id/permissions': ['permissions'],
  'POST /api/users/:id/hibernation': ['durationMs'],
}

const READS = [
  '/api/me',
  '/api/me/transactions',
  '/api/permissions',
  '/api/users',
  '/api/users/:id',
  '/api/users/:id/transactions',
] as const

const statuses = new Map<number, number>()
const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1)

describe('hostile input', () => {
  test('mutating routes: any body, any content type, any id, any caller', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...MUTATIONS),
        pathId,
        // Logging out a fixture session would end the run's other cases: logout gets no real cookie.
        who,
        contentType,
        fc.option(hostileBody, { nil: undefined }),
        async ([method, template], id, as, type, body) => {
          const caller = template === '/api/auth/logout' && !['none', 'garbage'].includes(as) ? 'garbage' : as
          const fields = FIELDS[`${method} ${template}`]
          count(await send({ method, path: template.replace(':id', id), as: caller, type, body, fields }))
        },
      ),
      { numRuns: 600 },
    )
  })

  test('reads: any id, any query, any caller', async () => {
    const query = fc.record(
      {
        query: queryString,
        limit: fc.oneof(hostileNumber.map(String), queryString),
        cursor: queryString,
        extra: queryString,
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...READS), pathId, who, query, async (template, id, as, q) => {
        const search = new URLSearchParams(q as Record<string, string>).toString()
        const path = `${template.replace(':id', id)}${search ? `?${search}` : ''}`
        count(await send({ method: 'GET', path, as, type: undefined, body: undefined }))
      }),
      { numRuns: 300 },
    )
  })

  test('streams: any Last-Event-ID, any caller', async () => {
    const lastEventId = fc.oneof(
      fc.constantFrom('', '0', '-1', '1e3', 'NaN', '9'.repeat(16), '9'.repeat(15), ' 1', '0x10'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      fc.nat().map(String),
    )
    await fc.assert(
      fc.asyncProperty(fc.boolean(), who, lastEventId, async (admin, as, last) => {
        const cookie = cookieFor(as)
        const controller = new AbortController()
        const headers: Record<string, string> = { 'last-event-id': last }
        if (cookie) headers.cookie = cookie
        const res = await fetch(`${api.url}${admin ? '/api/admin/events' : '/api/events'}`, {
          headers,
          signal: controller.signal,
        })
        const what = `${admin ? 'admin ' : ''}stream as ${as} Last-Event-ID ${JSON.stringify(last)} → ${res.status}`
        count(res.status)
        expect(res.status, what).toBeLessThan(500)
        if (res.status === 200) {
          expect(res.headers.get('content-type'), what).toMatch(/^text\/event-stream/)
          expect(as === 'admin' || !admin, what).toBe(true)
        } else expect(isErrorShape(await res.json()), what).toBe(true)
        controller.abort()
      }),
      { numRuns: 150 },
    )
    report(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`)
  })
})
