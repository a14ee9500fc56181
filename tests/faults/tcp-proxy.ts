import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { freePort } from '@dormant/testing'

export type TcpProxy = {
  url: string
  /** A partition: open connections are dropped, new ones are accepted and then hear nothing. */
  cut(): void
  /** Heals the partition for new connections (clients reconnect by themselves). */
  restore(): void
  /** Connections accepted since the cut and left hanging: a client that tried to reconnect. */
  held(): number
  close(): Promise<void>
}

/**
 * Forwards `redis://127.0.0.1:<port>` to a Redis, and can make it unreachable without stopping
 * it: the process under test loses its link while the test still reads Redis directly.
 */
export const startTcpProxy = async (upstreamUrl: string): Promise<TcpProxy> => {
  const upstream = new URL(upstreamUrl)
  const sockets = new Set<Socket>()
  let partitioned = false
  let held = 0
  const track = (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }
  const server: Server = createServer((client) => {
    track(client)
    // Held open and silent, as a dropped route looks to the client.
    if (partitioned) {
      held++
      return
    }
    const remote = createConnection(Number(upstream.port), upstream.hostname)
    track(remote)
    client.pipe(remote).pipe(client)
    client.on('close', () => remote.destroy())
    remote.on('close', () => client.destroy())
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const dropAll = () => {
    for (const s of sockets) s.destroy()
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    held: () => held,
    cut: () => {
      partitioned = true
      held = 0
      dropAll()
    },
    restore: () => {
      partitioned = false
      dropAll()
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll()
        server.close(() => resolve())
      }),
  }
}
