import Database from 'better-sqlite3'

export type BaselineUser = {
  id: string
  email: string
  name: string
  status: string
  goal: number
  permissions: string
  hibernation_ends_at: number | null
  version: number
  updated_at: number
}

/**
 * The data of the design Dormant replaces: one users table, a hibernation timer as a
 * column, checked whenever someone asks. Half the users hibernate, due in three days.
 */
export const openBaselineDb = (path: string, users: number) => {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`create table if not exists users (
    id text primary key, email text not null, name text not null, status text not null,
    goal integer not null, permissions text not null, hibernation_ends_at integer,
    version integer not null, updated_at integer not null)`)
  const insert = db.prepare(
    'insert or ignore into users values (@id, @email, @name, @status, @goal, @permissions, @hibernation_ends_at, @version, @updated_at)',
  )
  const now = Date.now()
  db.transaction(() => {
    for (let i = 0; i < users; i++) {
      const hibernating = i % 2 === 0
      insert.run({
        id: `u${i}`,
        email: `user${i}@example.com`,
        name: `User ${i}`,
        status: hibernating ? 'hibernating' : 'active',
        goal: 0,
        permissions: JSON.stringify(['hibernation.self', 'transactions.read']),
        hibernation_ends_at: hibernating ? now + 3 * 24 * 3600 * 1000 : null,
        version: 1,
        updated_at: now,
      })
    }
  })()
  return db
}

export const toJson = (u: BaselineUser) =>
  JSON.stringify({
    id: u.id,
    email: u.email,
    name: u.name,
    role: 'user',
    status: u.status,
    goal: u.goal,
    permissions: JSON.parse(u.permissions),
    hibernation: u.hibernation_ends_at ? { endsAt: new Date(u.hibernation_ends_at).toISOString() } : null,
    version: u.version,
    updatedAt: new Date(u.updated_at).toISOString(),
  })

export const userIdFrom = (cookie: string | undefined) => /(?:^|;\s*)uid=([^;]+)/.exec(cookie ?? '')?.[1]

export const announceListening = (name: string, address: unknown) =>
  process.stdout.write(
    `${name} listening ${typeof address === 'object' && address ? (address as { port: number }).port : ''}\n`,
  )

/**
 * The polling endpoint's work, as the original app did it on every request: load the user,
 * activate them if their timer has passed, set goal to 1 when active, save. Returns the
 * user's JSON, or undefined when there is no such user.
 */
export const checkStatus = (db: ReturnType<typeof openBaselineDb>) => {
  const load = db.prepare('select * from users where id = ?')
  const save = db.prepare(
    'update users set status = @status, goal = @goal, hibernation_ends_at = @hibernation_ends_at, version = @version, updated_at = @updated_at where id = @id',
  )
  return (id: string | undefined): string | undefined => {
    const user = id ? (load.get(id) as BaselineUser | undefined) : undefined
    if (!user) return undefined
    const now = Date.now()
    if (user.status === 'hibernating' && user.hibernation_ends_at !== null && user.hibernation_ends_at <= now) {
      user.status = 'active'
      user.hibernation_ends_at = null
    }
    if (user.status === 'active') user.goal = 1
    user.version += 1
    user.updated_at = now
    save.run(user)
    return toJson(user)
  }
}
