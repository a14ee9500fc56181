import { randomInt } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import type { PgDb } from './client.js'
import { PRUNED_THROUGH } from './events.js'
import { events, meta } from './schema.js'

const draw = () => randomInt(1, 2 ** 48 - 1)

/**
 * The value kept under `key`, drawn now if none is: INSERT … ON CONFLICT DO NOTHING makes
 * processes starting together agree on the first draw (a second insert waits for the first
 * to commit, then does nothing), and the read after it sees the winner's.
 */
const drawnOnce = async (db: PgDb, key: string) => {
  await db.insert(meta).values({ key, value: draw() }).onConflictDoNothing()
  const [row] = await db.select({ value: meta.value }).from(meta).where(eq(meta.key, key))
  if (!row) throw new Error(`meta ${key} missing after insert`)
  return row.value
}

/** This deployment's identity, shared by every process on the database (see sqlite/deployment.ts). */
export const deploymentId = async (db: PgDb) => (await drawnOnce(db, 'deployment')).toString(36)

const EPOCH = 'stream_epoch'

/**
 * The epoch of event ids. A random value kept in `meta` (`newStreamEpoch` redraws it after a
 * restore), combined with what PostgreSQL itself changes when the data is restored or failed
 * over: the cluster's system identifier (a new cluster, e.g. a logical restore), its
 * timeline (a point-in-time recovery or a promoted replica) and the database's oid (a
 * database re-created from a dump). Any of these changing changes the epoch, so an id handed
 * out before never names another event after. The first two need pg_control_* functions,
 * which a role may be refused (they are granted to superusers and pg_monitor members only
 * on some installations): then they count as empty and the rest still apply.
 */
export const streamEpoch = async (db: PgDb) => {
  await drawnOnce(db, EPOCH)
  return (await position(db)).epoch
}

export const newStreamEpoch = async (db: PgDb) => {
  const value = draw()
  await db.insert(meta).values({ key: EPOCH, value }).onConflictDoUpdate({ target: meta.key, set: { value } })
  return streamEpoch(db)
}

/** Databases whose role may not read pg_control_* (found out once, by the first refusal). */
const controlDenied = new WeakSet<PgDb>()

/**
 * The table's committed position (`latestEventId`) and the epoch, in ONE read-only statement:
 * what every API process checks every `EVENTS_CHECK_MS`. The cluster's identity is read each
 * time, not cached: after a failover the pool reconnects to a different server.
 */
export const position = async (db: PgDb): Promise<{ id: number; epoch: string }> => {
  const control = controlDenied.has(db)
    ? sql`null::text as system, null::text as timeline`
    : sql`(select system_identifier::text from pg_control_system()) as system,
          (select timeline_id::text from pg_control_checkpoint()) as timeline`
  let rows: { id: number; value: number | null; oid: string; system: string | null; timeline: string | null }[]
  try {
    rows = (
      await db.execute<(typeof rows)[number]>(sql`select greatest(
          coalesce((select max(${events.id}) from ${events}), 0),
          coalesce((select ${meta.value} from ${meta} where ${meta.key} = ${PRUNED_THROUGH}), 0)
        )::float8 as id,
        (select ${meta.value} from ${meta} where ${meta.key} = ${EPOCH})::float8 as value,
        (select oid::text from pg_database where datname = current_database()) as oid,
        ${control}`)
    ).rows
  } catch (err) {
    if (!isPermissionDenied(err) || controlDenied.has(db)) throw err
    controlDenied.add(db)
    return position(db)
  }
  const row = rows[0]
  if (!row) throw new Error('position: no row')
  if (row.value === null) return { id: row.id, epoch: await streamEpoch(db) }
  const identity = controlDenied.has(db) ? [row.oid] : [row.oid, row.system ?? '', row.timeline ?? '']
  return { id: row.id, epoch: combine(row.value, identity.join('/')) }
}

/** drizzle wraps the driver's error: its code is on the cause. */
const isPermissionDenied = (err: unknown) =>
  [err, (err as { cause?: unknown })?.cause].some((e) => (e as { code?: unknown })?.code === '42501')

/** A short base-36 string: the random value, then 32 bits of a hash of the cluster's identity. */
const combine = (value: number, identity: string) => {
  let hash = 0x811c9dc5 // FNV-1a: short, stable, no dependency
  for (const char of identity) hash = Math.imul(hash ^ (char.codePointAt(0) ?? 0), 0x01000193) >>> 0
  return `${value.toString(36)}${hash.toString(36).padStart(7, '0')}`
}

/**
 * Takes the lease `key` until `until` when it is free, expired, or still the one this holder
 * took (`held`). One INSERT … ON CONFLICT DO UPDATE … WHERE: the row lock makes a second
 * taker re-check the condition against the first one's value, so two can never both get it.
 */
export const takeLease = async (db: PgDb, key: string, held: number, until: number, now = Date.now()) => {
  const taken = await db
    .insert(meta)
    .values({ key, value: until })
    .onConflictDoUpdate({
      target: meta.key,
      set: { value: until },
      setWhere: sql`${meta.value} <= ${now} or ${meta.value} = ${held}`,
    })
    .returning({ key: meta.key })
  return taken.length > 0
}

export const ping = async (db: PgDb) => (await db.execute(sql`select 1 as ok`)).rows.length > 0
