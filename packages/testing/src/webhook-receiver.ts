import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

/** A verified request the receiver accepted (answered 2xx). */
export type Received = { id: string; body: unknown; verifiedWith: number[] }

/**
 * A real HTTP receiver on loopback that verifies every request with the `standardwebhooks`
 * package (an implementation independent of ours) against each of `secrets`. `hold` keeps
 * a request open unanswered (to kill a worker mid-delivery); `status` picks the answer.
 */
export const startReceiver = async (secrets: string[], port = 0) => {
  const verifiers = () => secrets.map((s) => new Webhook(s))
  const state = {
    received: [] as Received[],
    /** Requests seen, verified or not, answered or not. */
    seen: [] as { id: string }[],
    hold: false,
    status: 200,
    secrets,
  }
  const held: ServerResponse[] = []
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString()
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]))
      state.seen.push({ id: headers['webhook-id'] ?? '' })
      if (state.hold) {
        held.push(res)
        return
      }
      const verifiedWith: number[] = []
      let body: unknown
      verifiers().forEach((v, i) => {
        try {
          body = v.verify(raw, headers)
          verifiedWith.push(i)
        } catch {}
      })
      if (!verifiedWith.length) {
        res.writeHead(401).end()
        return
      }
      // Only accepted deliveries count: a request answered with an error is one the sender must retry.
      if (state.status < 300) state.received.push({ id: headers['webhook-id'] ?? '', body, verifiedWith })
      res.writeHead(state.status).end('ok')
    })
  }
  let server: Server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const boundPort = (server.address() as AddressInfo).port
  return {
    state,
    port: boundPort,
    url: `http://127.0.0.1:${boundPort}/hook`,
    /** Verified requests per webhook-id. */
    countById: () => state.received.reduce((m, r) => m.set(r.id, (m.get(r.id) ?? 0) + 1), new Map<string, number>()),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of held.splice(0)) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
    restart: async () => {
      server = createServer(handle)
      await new Promise<void>((resolve) => server.listen(boundPort, '127.0.0.1', resolve))
    },
  }
}
