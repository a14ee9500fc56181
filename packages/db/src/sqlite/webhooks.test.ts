import { tempDbPath } from '@dormant/testing'
import { expect, test } from 'vitest'
import { closeDb, openDb } from './client.js'
import { createUser } from './users.js'
import { createWebhookEndpoint, dispatchWebhookEvents, listWebhookDeliveries } from './webhooks.js'

const addUser = (db: ReturnType<typeof openDb>, email: string) => {
  const created = createUser(db, { email, passwordHash: 'x', permissions: [] })
  if ('error' in created) throw new Error(created.error)
}

test('events after an endpoint exists become one delivery each, even when no worker dispatched before; history does not', () => {
  const db = openDb(tempDbPath())
  try {
    addUser(db, 'before@example.com')
    const endpoint = createWebhookEndpoint(db, {
      url: 'https://h.example/',
      events: ['user.updated'],
      secret: 'whsec_eA==',
    })
    addUser(db, 'after@example.com')
    const first = dispatchWebhookEvents(db)
    expect(first.created).toHaveLength(1)
    // A second dispatcher (or a retry after a crash) writes nothing twice.
    expect(dispatchWebhookEvents(db).created).toEqual([])
    expect(listWebhookDeliveries(db, endpoint.id, 10).deliveries).toHaveLength(1)
  } finally {
    closeDb(db)
  }
})
