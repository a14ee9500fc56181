import { checkWebhookUrl, newWebhookSecret, RefusedDestinationError, type Resolver } from '@dormant/core'
import { createWebhookEndpoint, dispatchWebhookEvents, listWebhookDeliveries } from '@dormant/db'
import { startReceiver, waitFor } from '@dormant/testing'
import { describe, expect, it } from 'vitest'
import { silentLog, test } from './testing.js'
import { sendWebhook } from './webhook-send.js'
import { commitUserChange } from './webhook-test-support.js'
import { startWebhooks } from './webhooks.js'

/** One address per refused class. */
const REFUSED = {
  loopback: '127.0.0.1',
  'loopback (other)': '127.1.2.3',
  'loopback v6': '::1',
  'private 10/8': '10.1.2.3',
  'private 172.16/12': '172.20.0.5',
  'private 192.168/16': '192.168.1.10',
  'carrier-grade NAT': '100.64.0.1',
  'link-local': '169.254.10.10',
  'metadata (AWS, GCP, Azure)': '169.254.169.254',
  'metadata v6 (AWS)': 'fd00:ec2::254',
  'link-local v6': 'fe80::1',
  'unique-local v6': 'fc00::1',
  unspecified: '0.0.0.0',
  'unspecified v6': '::',
  'v4-mapped loopback': '::ffff:127.0.0.1',
  'v4-mapped loopback (hex)': '::ffff:7f00:1',
  multicast: '224.0.0.1',
  'NAT64 of loopback': '64:ff9b::7f00:1',
  '6to4 of a private address': '2002:a00:1::1',
  'IPv4-compatible loopback': '::7f00:1',
}

const literalUrl = (address: string, port = 80) =>
  `http://${address.includes(':') ? `[${address}]` : address}:${port}/hook`

/** A resolver that answers `address` for every name: the attacker's DNS. */
const resolvesTo =
  (address: string): Resolver =>
  async () => [{ address, family: address.includes(':') ? 6 : 4 }]

describe('at creation', () => {
  for (const [what, address] of Object.entries(REFUSED)) {
    it(`refuses ${what} (${address}) as a literal and behind a name`, async () => {
      await expect(checkWebhookUrl(literalUrl(address), { allowPrivate: false })).rejects.toThrow(
        RefusedDestinationError,
      )
      await expect(
        checkWebhookUrl('https://hooks.example.com/x', { allowPrivate: false, resolve: resolvesTo(address) }),
      ).rejects.toThrow(RefusedDestinationError)
      // WEBHOOK_ALLOW_PRIVATE lets it through.
      await expect(checkWebhookUrl(literalUrl(address), { allowPrivate: true })).resolves.toBeInstanceOf(URL)
    })
  }
  it('accepts a public address, refuses localhost names and non-http schemes', async () => {
    const options = { allowPrivate: false, resolve: resolvesTo('93.184.216.34') }
    await expect(checkWebhookUrl('https://hooks.example.com/x', options)).resolves.toBeInstanceOf(URL)
    await expect(checkWebhookUrl('http://localhost:3000/', options)).rejects.toThrow(RefusedDestinationError)
    await expect(checkWebhookUrl('http://app.localhost/', options)).rejects.toThrow(RefusedDestinationError)
    await expect(checkWebhookUrl('file:///etc/passwd', options)).rejects.toThrow(RefusedDestinationError)
    await expect(checkWebhookUrl('gopher://x/', options)).rejects.toThrow(RefusedDestinationError)
  })
})

describe('at delivery', () => {
  it('refuses every class as a literal and behind a name, without connecting; allowed, the same request arrives', async () => {
    const secret = newWebhookSecret()
    const receiver = await startReceiver([secret])
    try {
      const target = (url: string) => ({ url, secrets: [secret], webhookId: 'msg_1', body: '{}' })
      for (const [what, address] of Object.entries(REFUSED)) {
        const literal = await sendWebhook(target(literalUrl(address, receiver.port)), {
          allowPrivate: false,
          timeoutMs: 1000,
        })
        expect(literal, what).toMatchObject({ ok: false, refused: true })
        const named = await sendWebhook(target(`http://receiver.example:${receiver.port}/hook`), {
          allowPrivate: false,
          timeoutMs: 1000,
          resolve: resolvesTo(address),
        })
        expect(named, what).toMatchObject({ ok: false, refused: true })
      }
      expect(receiver.state.seen).toEqual([])
      const allowed = await sendWebhook(target(`http://receiver.example:${receiver.port}/hook`), {
        allowPrivate: true,
        timeoutMs: 1000,
        resolve: resolvesTo('127.0.0.1'),
      })
      expect(allowed).toMatchObject({ ok: true, httpStatus: 200 })
      expect(receiver.state.received).toHaveLength(1)
    } finally {
      await receiver.stop()
    }
  })
})

test('DNS rebinding: a name public at creation that resolves to loopback at delivery is refused', async ({ env }) => {
  const secret = newWebhookSecret()
  const receiver = await startReceiver([secret])
  let answer = '93.184.216.34'
  const resolve: Resolver = async () => [{ address: answer, family: 4 }]
  const url = `http://rebind.example:${receiver.port}/hook`
  await expect(checkWebhookUrl(url, { allowPrivate: false, resolve })).resolves.toBeInstanceOf(URL)
  answer = '127.0.0.1'
  await dispatchWebhookEvents(env.db)
  const endpoint = await createWebhookEndpoint(env.db, { url, events: ['user.updated'], secret })
  const config = { ...env.config, WEBHOOK_ALLOW_PRIVATE: false, WEBHOOK_DISPATCH_INTERVAL_MS: 200 }
  const webhooks = await startWebhooks(config, { ...env, log: silentLog() }, { resolve })
  try {
    await commitUserChange(env.db, env.redis, env.config.REDIS_PREFIX)
    const delivery = await waitFor(
      async () => (await listWebhookDeliveries(env.db, endpoint.id, 1)).deliveries.find((d) => d.attempts > 0),
      {
        what: 'an attempt',
      },
    )
    expect(delivery.status).toBe('pending')
    expect(delivery.lastError).toMatch(/refused destination/)
    expect(receiver.state.seen).toEqual([])
  } finally {
    await webhooks.stop()
    await receiver.stop()
  }
})
