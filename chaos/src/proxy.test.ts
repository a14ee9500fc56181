import { once } from 'node:events'
import { createServer, type Server, Socket } from 'node:net'
import { waitFor } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { startProxy, type TcpProxy } from './proxy.js'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn()
})

/** A real TCP echo server on a free loopback port, behind a fresh proxy. */
const echoBehindProxy = async () => {
  const server: Server = createServer((s) => s.pipe(s))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  const proxy = await startProxy(address.port)
  cleanup.push(
    () => proxy.close(),
    () => new Promise((resolve) => server.close(resolve)),
  )
  return proxy
}

const connect = async (proxy: TcpProxy) => {
  const socket = new Socket()
  const state = { data: '', closed: false }
  socket.on('data', (chunk) => {
    state.data += chunk.toString()
  })
  socket.on('close', () => {
    state.closed = true
  })
  socket.on('error', () => {})
  socket.connect(proxy.port, '127.0.0.1')
  await once(socket, 'connect')
  cleanup.push(() => void socket.destroy())
  return { socket, state }
}

test('forwards both ways until partitioned; refuse drops open and new connections; heal restores', async () => {
  const proxy = await echoBehindProxy()
  const a = await connect(proxy)
  a.socket.write('ping')
  await waitFor(() => a.state.data === 'ping', { what: 'echo' })
  proxy.partition('refuse')
  await waitFor(() => a.state.closed, { what: 'open connection dropped' })
  const b = await connect(proxy)
  await waitFor(() => b.state.closed, { what: 'new connection refused' })
  proxy.heal()
  const c = await connect(proxy)
  c.socket.write('again')
  await waitFor(() => c.state.data === 'again', { what: 'echo after heal' })
})

test('a blackhole swallows bytes silently, then drops the connections it held on heal', async () => {
  const proxy = await echoBehindProxy()
  const a = await connect(proxy)
  proxy.partition('blackhole')
  a.socket.write('lost')
  const b = await connect(proxy)
  b.socket.write('lost too')
  // The echo would answer within milliseconds; give it many times that, then require silence.
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect([a.state, b.state]).toEqual([
    { data: '', closed: false },
    { data: '', closed: false },
  ])
  proxy.heal()
  await waitFor(() => a.state.closed && b.state.closed, { what: 'held connections dropped' })
  const c = await connect(proxy)
  c.socket.write('back')
  await waitFor(() => c.state.data === 'back', { what: 'echo after heal' })
})
