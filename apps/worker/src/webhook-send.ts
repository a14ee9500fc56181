import http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import { checkedLookup, isRefusedAddress, RefusedDestinationError, type Resolver, signWebhook } from '@dormant/core'

export type SendOptions = {
  allowPrivate: boolean
  timeoutMs: number
  /** Injected in tests (DNS rebinding); the system resolver otherwise. */
  resolve?: Resolver
  /** Keep-alive pools of one worker (a fresh connection per attempt without). */
  agents?: { http: http.Agent; https: https.Agent }
}

/**
 * Connection pools for one worker's deliveries: a TLS handshake per attempt would cost more
 * than the request. A pooled connection was made to an address checked when it was opened.
 */
export const createAgents = () => {
  const options = { keepAlive: true, maxSockets: 32, maxFreeSockets: 8, timeout: 30_000 }
  return { http: new http.Agent(options), https: new https.Agent(options) }
}

export type SendResult =
  | { ok: true; httpStatus: number; latencyMs: number }
  | { ok: false; httpStatus: number | null; error: string; latencyMs: number | null; refused?: boolean }

/** Bytes of response read at most: the status is what counts, a huge body is not our problem. */
const MAX_RESPONSE_BYTES = 64 * 1024

/**
 * Sends one signed request. Only a 2xx is success; a redirect is a failure (never followed:
 * it could point anywhere, including inside the network). The connection goes to the address
 * that was checked, resolved in the same step.
 */
export const sendWebhook = (
  target: { url: string; secrets: readonly string[]; webhookId: string; body: string },
  options: SendOptions,
  now = Date.now(),
): Promise<SendResult> => {
  const url = new URL(target.url)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!options.allowPrivate && isIP(host) && isRefusedAddress(host))
    return Promise.resolve({
      ok: false,
      httpStatus: null,
      latencyMs: null,
      refused: true,
      error: `refused destination ${host}`,
    })
  const timestamp = Math.floor(now / 1000)
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(target.body),
    'user-agent': 'Dormant-Webhooks/1',
    'webhook-id': target.webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(target.secrets, target.webhookId, timestamp, target.body),
  }
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  return new Promise((resolve) => {
    const secure = url.protocol === 'https:'
    const request = (secure ? https : http).request(url, {
      method: 'POST',
      headers,
      agent: (secure ? options.agents?.https : options.agents?.http) ?? false,
      lookup: checkedLookup(options) as never,
      timeout: options.timeoutMs,
    })
    // The whole exchange is bounded, not only idle gaps: a receiver trickling bytes cannot hold a job.
    const deadline = setTimeout(
      () => request.destroy(new Error(`timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    )
    let settled = false
    const finish = (result: SendResult) => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      resolve(result)
    }
    request.on('timeout', () => request.destroy(new Error(`timed out after ${options.timeoutMs} ms`)))
    request.on('error', (err) =>
      finish({
        ok: false,
        httpStatus: null,
        latencyMs: null,
        error: err.message,
        ...(err instanceof RefusedDestinationError ? { refused: true } : {}),
      }),
    )
    request.on('response', (response) => {
      const status = response.statusCode ?? 0
      let read = 0
      response.on('data', (chunk: Buffer) => {
        read += chunk.length
        if (read > MAX_RESPONSE_BYTES) response.destroy()
      })
      const done = () =>
        finish(
          status >= 200 && status < 300
            ? { ok: true, httpStatus: status, latencyMs: elapsed() }
            : { ok: false, httpStatus: status, latencyMs: elapsed(), error: `HTTP ${status}` },
        )
      response.on('end', done)
      response.on('close', done)
      response.on('error', done)
    })
    request.end(target.body)
  })
}
