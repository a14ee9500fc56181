import { createEventPublisher } from '@dormant/core'
import { createUser, type Db, deploymentId } from '@dormant/db'
import { uniquePrefix } from '@dormant/testing'
import type { Redis } from 'ioredis'

/** Commits a change (a new user: one `user.updated`) and announces it like the API does. */
export const commitUserChange = async (db: Db, redis: Redis, prefix: string) => {
  const created = await createUser(db, {
    email: `${uniquePrefix('u')}@example.com`,
    passwordHash: 'x',
    permissions: [],
  })
  if ('error' in created) throw new Error(created.error)
  await createEventPublisher(redis, prefix, await deploymentId(db)).events(created.events)
  return created.events[0]!
}
