import { createServer, type Server, Socket } from 'node:net'

export type PartitionMode = 'refuse' | 'blackhole'

export type TcpProxy = {
  port: number
  url: string
  /** Cuts the process off from Redis: `refuse` drops connections, `blackhole` holds them silent. */
  partition(mode: PartitionMode): void
  heal(): void
  close(): Promise<void>
}

/**
 * A loopback TCP proxy in front of Redis for one process, so the nemesis can partition that
 * process alone (or in front of PostgreSQL for all of them, to restart it for them). A
 * blackholed connection is destroyed on heal: bytes it swallowed would desynchronise the
 * protocol if it carried on.
 */
export const startProxy = async (targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> => {
  let mode: PartitionMode | undefined
  const pairs = new Set<{ client: Socket; upstream?: Socket }>()

  const server: Server = createServer((client) => {
    if (mode === 'refuse') return void client.destroy()
    const pair: { client: Socket; upstream?: Socket } = { client }
    pairs.add(pair)
    const drop = () => {
      pairs.delete(pair)
      client.destroy()
      pair.upstream?.destroy()
    }
    client.on('error', drop).on('close', drop)
    if (mode === 'blackhole') {
      client.resume()
      return
    }
    const upstream = new Socket()
    pair.upstream = upstream
    upstream.on('error', drop).on('close', drop)
    upstream.connect(targetPort, targetHost, () => {
      client.pipe(upstream)
      upstream.pipe(client)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('proxy has no port')

  return {
    port: address.port,
    url: `redis://127.0.0.1:${address.port}`,
    partition: (next) => {
      mode = next
      for (const pair of pairs) {
        if (next === 'refuse') {
          pair.client.destroy()
          pair.upstream?.destroy()
        } else {
          pair.client.unpipe()
          pair.upstream?.unpipe()
          pair.client.resume()
          pair.upstream?.resume()
        }
      }
    },
    heal: () => {
      if (mode === 'blackhole') for (const pair of pairs) pair.client.destroy()
      mode = undefined
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of pairs) pair.client.destroy()
        server.close(() => resolve())
      }),
  }
}
