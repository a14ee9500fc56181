import { connect, createServer, type Server, type Socket } from 'node:net'
import { freePort } from './ports.js'

export type TcpProxy = {
  /** Point a client here instead of at the target. */
  url: string
  port: number
  /**
   * A partition: bytes in both directions are dropped and new connections are accepted but
   * go nowhere, so the client notices nothing until its own timeouts (a real network split,
   * not a crash that resets connections). With `refuse`, a server that is down instead (as
   * one restarting is): open connections are reset and new ones are closed at once.
   */
  partition(mode?: 'blackhole' | 'refuse'): void
  /** Ends the partition: the connections that lived through it are reset (as a timeout would) and new ones pass. */
  heal(): void
  close(): Promise<void>
}

/** A TCP proxy between one process and a server (Redis), for cutting that one process off. */
export const startTcpProxy = async (target: { host?: string; port: number }, scheme = 'redis'): Promise<TcpProxy> => {
  const host = target.host ?? '127.0.0.1'
  const port = await freePort()
  const pairs = new Set<[Socket, Socket | undefined]>()
  let cut: 'blackhole' | 'refuse' | undefined

  const server: Server = createServer((client) => {
    if (cut === 'refuse') return void client.resetAndDestroy()
    const pair: [Socket, Socket | undefined] = [client, undefined]
    pairs.add(pair)
    const drop = () => {
      client.destroy()
      pair[1]?.destroy()
      pairs.delete(pair)
    }
    client.on('error', drop).on('close', drop)
    if (cut) return // held open, going nowhere, until heal() resets it
    const upstream = connect(target.port, host)
    pair[1] = upstream
    upstream.on('error', drop).on('close', drop)
    client.on('data', (chunk) => {
      if (!cut) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (!cut) client.write(chunk)
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))

  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    partition(mode = 'blackhole') {
      cut = mode
      if (mode === 'blackhole') return
      for (const [client, upstream] of [...pairs]) {
        client.resetAndDestroy()
        upstream?.destroy()
      }
      pairs.clear()
    },
    heal() {
      cut = undefined
      for (const [client, upstream] of [...pairs]) {
        client.resetAndDestroy()
        upstream?.destroy()
      }
      pairs.clear()
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy()
        upstream?.destroy()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
