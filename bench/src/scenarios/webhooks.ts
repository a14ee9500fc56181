import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connectRedis, createHibernationQueue, scheduleHibernationJobs } from '@dormant/core'
import { closeDb, createWebhookEndpoint, deploymentId, dispatchWebhookEvents, openDb } from '@dormant/db'
import { uniquePrefix } from '@dormant/testing'
import { sleep } from '../clock.js'
import type { Ctx } from '../context.js'
import { benchDatabase, databaseEnv, openRaw } from '../database.js'
import { insertBareUsers, insertHibernations } from '../fixtures.js'
import { step } from '../progress.js'
import { fmt, type ScenarioResult, target } from '../result.js'
import { startWorker } from '../servers/process.js'

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN

/**
 * Scenario 6: N due hibernations with a webhook endpoint subscribed to `hibernation.completed`;
 * one worker completes them and delivers one signed request per completion to a loopback
 * receiver. Throughput is deliveries received per second; lag is receipt time minus the
 * commit time of the event (the body's `timestamp`).
 */
export const runWebhooks = async (ctx: Ctx, size: { count: number }): Promise<ScenarioResult> => {
  const n = size.count
  const s = step(`7 webhooks: ${n} completions, each delivered to a receiver`)
  const lags: number[] = []
  const ids = new Set<string>()
  let firstAt = 0
  let lastAt = 0
  const receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const now = Date.now()
      const id = String(req.headers['webhook-id'])
      if (!ids.has(id)) {
        ids.add(id)
        lags.push(now - Date.parse((JSON.parse(body) as { timestamp: string }).timestamp))
        firstAt ||= performance.now()
        lastAt = performance.now()
      }
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const port = (receiver.address() as AddressInfo).port
  const location = await benchDatabase(ctx.backend)
  const prefix = uniquePrefix('bench')
  const db = await openDb(location)
  const redis = connectRedis(ctx.redisUrl)
  const queue = createHibernationQueue(redis, prefix, await deploymentId(db))
  s.update('creating due hibernations')
  const raw = await openRaw(location)
  const now = Date.now()
  const due = await insertHibernations(raw, await insertBareUsers(raw, n), now - 1000, () => now).finally(() =>
    raw.close(),
  )
  await dispatchWebhookEvents(db) // the cursor starts after the set-up events
  await createWebhookEndpoint(db, {
    url: `http://127.0.0.1:${port}/hook`,
    events: ['hibernation.completed'],
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  })
  for (let i = 0; i < due.length; i += 1000) await scheduleHibernationJobs(queue, due.slice(i, i + 1000))
  s.update('starting the worker')
  const worker = startWorker({
    ...databaseEnv(location),
    REDIS_URL: ctx.redisUrl,
    REDIS_PREFIX: prefix,
    WEBHOOK_ALLOW_PRIVATE: 'true',
  })
  try {
    await worker.waitForOutput('worker ready', 60_000)
    const deadline = performance.now() + Math.max(60_000, n * 12)
    while (ids.size < n && performance.now() < deadline) {
      s.update(`${ids.size}/${n} delivered`)
      await sleep(100)
    }
    const seconds = (lastAt - firstAt) / 1000
    const rate = seconds > 0 ? (ids.size - 1) / seconds : Number.NaN
    lags.sort((a, b) => a - b)
    const [p50, p99, max] = [quantile(lags, 0.5), quantile(lags, 0.99), lags.at(-1) ?? Number.NaN]
    s.done(`${fmt(rate, 0)} deliveries/s (${ids.size}/${n}), lag p50 ${fmt(p50, 0)} ms, p99 ${fmt(p99, 0)} ms`)
    return {
      id: 'webhooks',
      title: `7. Webhook delivery: ${n} completions, one worker, one receiver`,
      rows: [
        {
          label: 'dormant worker',
          values: {
            'deliveries/s': fmt(rate, 0),
            delivered: `${ids.size}/${n}`,
            'lag p50': `${fmt(p50, 0)} ms`,
            'lag p99': `${fmt(p99, 0)} ms`,
            'lag max': `${fmt(max, 0)} ms`,
          },
        },
      ],
      targets: [target('every completion delivered', ids.size, '>=', n)],
      data: { count: n, delivered: ids.size, seconds, rate, lagP50Ms: p50, lagP99Ms: p99, lagMaxMs: max },
      notes: [
        'Completions and deliveries share one worker process (default concurrency for both queues).',
        'Lag is from the commit of the completion to the receiver reading the request; it includes the completion backlog.',
      ],
    }
  } finally {
    await worker.signal('SIGTERM')
    await queue.close()
    await redis.quit()
    await closeDb(db)
    receiver.closeAllConnections()
    receiver.close()
  }
}
