import { spawnApp, startTcpProxy, type TcpProxy, testBackend, waitFor } from '@dormant/testing'
import { afterEach, describe, expect, inject, test } from 'vitest'
import { dbOf, systemEnv } from './support.js'

const READY = { api: 'api listening', worker: 'worker ready' } as const

// A SQLite file has no server to be down; PostgreSQL restarts, fails over, refuses connections.
describe.runIf(testBackend() === 'postgres')('PostgreSQL unreachable while a process starts', () => {
  let proxy: TcpProxy | undefined
  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
  })

  for (const kind of ['api', 'worker'] as const) {
    test(`the ${kind} waits for it, and starts once it is back`, async () => {
      const env = await systemEnv(inject('redisUrl'))
      const server = new URL(dbOf(env))
      proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) }, 'postgres')
      const throughProxy = new URL(server)
      throughProxy.port = String(proxy.port)
      // Refused, as a server still starting up refuses them.
      proxy.partition('refuse')
      const proc = spawnApp(kind, { ...env, DATABASE_URL: throughProxy.href, PORT: '0' })
      try {
        await waitFor(
          () => {
            if (proc.child.exitCode !== null)
              throw new Error(`${kind} exited (${proc.child.exitCode}):\n${proc.output()}`)
            return /database unavailable at start; trying again/.test(proc.output())
          },
          { timeoutMs: 60_000, what: `the ${kind} to say it waits for the database` },
        )
        proxy.heal()
        await proc.waitForOutput(READY[kind], 60_000)
        expect(proc.child.exitCode).toBeNull()
      } finally {
        await proc.signal('SIGTERM')
      }
    })
  }
})
