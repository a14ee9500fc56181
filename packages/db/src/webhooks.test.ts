import { tempDatabase } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import {
  closeDb,
  createUser,
  createWebhookEndpoint,
  type Db,
  dispatchWebhookEvents,
  listWebhookDeliveries,
  openDb,
  setPermissions,
} from './index.js'

const dbs: Db[] = []
afterEach(async () => {
  await Promise.all(dbs.splice(0).map(closeDb))
})
const open = async (location: string) => {
  const db = await openDb(location)
  dbs.push(db)
  return db
}

const addUser = async (db: Db, email: string) => {
  const created = await createUser(db, { email, passwordHash: 'x', permissions: [] })
  if ('error' in created) throw new Error(created.error)
  return created.user.id
}

const endpointOn = (db: Db) =>
  createWebhookEndpoint(db, { url: 'https://h.example/', events: ['user.updated'], secret: 'whsec_eA==' })

test('events after an endpoint exists become one delivery each, even when no worker dispatched before; history does not', async () => {
  const db = await open(await tempDatabase())
  await addUser(db, 'before@example.com')
  const endpoint = await endpointOn(db)
  await addUser(db, 'after@example.com')
  const first = await dispatchWebhookEvents(db)
  expect(first.created).toHaveLength(1)
  // A second dispatcher (or a retry after a crash) writes nothing twice.
  expect((await dispatchWebhookEvents(db)).created).toEqual([])
  expect((await listWebhookDeliveries(db, endpoint.id, 10)).deliveries).toHaveLength(1)
})

test('two workers dispatching at once (two connections) create each delivery exactly once', async () => {
  const location = await tempDatabase()
  const [one, two] = [await open(location), await open(location)]
  const endpoint = await endpointOn(one)
  const userId = await addUser(one, 'u@example.com')
  for (let i = 0; i < 30; i++) await setPermissions(i % 2 ? one : two, userId, i % 2 ? ['reports.view'] : [])
  const created: string[] = []
  // Several rounds in small pages, so both dispatchers keep overlapping on the same events.
  for (let round = 0; round < 10; round++) {
    const [a, b] = await Promise.all([dispatchWebhookEvents(one, 4), dispatchWebhookEvents(two, 4)])
    created.push(...[...a.created, ...b.created].map((d) => d.id))
  }
  expect(new Set(created).size).toBe(created.length)
  expect(created).toHaveLength(31)
  const listed = (await listWebhookDeliveries(one, endpoint.id, 100)).deliveries
  expect(listed).toHaveLength(31)
})
