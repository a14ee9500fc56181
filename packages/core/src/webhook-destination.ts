import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP } from 'node:net'

/** Resolves a host name to all its addresses (node's `dns.lookup` shape); injectable in tests. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  )

/**
 * Destinations a webhook may not reach unless WEBHOOK_ALLOW_PRIVATE: loopback, private,
 * carrier-grade NAT, link-local (which holds the cloud metadata service, 169.254.169.254 and
 * fd00:ec2::254), unspecified, multicast and reserved ranges.
 */
const REFUSED = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  REFUSED.addSubnet(net, bits, 'ipv4')
for (const [net, bits] of [
  // Unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d.
  ['::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  REFUSED.addSubnet(net, bits, 'ipv6')

/** The IPv4 address an IPv6 address embeds (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::`, 6to4 `2002:AABB:CCDD::`), if any. */
const embeddedIpv4 = (address: string) => {
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/i.exec(address)
  if (sixToFour) {
    const n = (Number.parseInt(sixToFour[1] ?? '0', 16) << 16) | Number.parseInt(sixToFour[2] ?? '0', 16)
    return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
  }
  const m = /^(?:::ffff:|64:ff9b::)(?:0:)?([0-9a-f.:]+)$/i.exec(address)
  if (!m?.[1]) return undefined
  if (isIP(m[1]) === 4) return m[1]
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(m[1])
  if (!hex) return undefined
  const n = (Number.parseInt(hex[1] ?? '0', 16) << 16) | Number.parseInt(hex[2] ?? '0', 16)
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
}

/** True when the address is one a webhook must not reach. */
export const isRefusedAddress = (address: string): boolean => {
  const family = isIP(address)
  if (family === 4) return REFUSED.check(address, 'ipv4')
  if (family !== 6) return true
  const v4 = embeddedIpv4(address)
  return v4 ? REFUSED.check(v4, 'ipv4') : REFUSED.check(address, 'ipv6')
}

export class RefusedDestinationError extends Error {}

/** Host of a URL without IPv6 brackets. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1')

/**
 * Checks a webhook URL's form, and its destination unless private ones are allowed: a
 * literal address, a `localhost` name, or a name resolving to any refused address is
 * refused. A name that does not resolve now is accepted; delivery checks again anyway.
 */
export const checkWebhookUrl = async (
  raw: string,
  options: { allowPrivate: boolean; resolve?: Resolver },
): Promise<URL> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new RefusedDestinationError('not a valid URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RefusedDestinationError('only http and https')
  if (url.username || url.password) throw new RefusedDestinationError('credentials in the URL are not allowed')
  if (options.allowPrivate) return url
  const host = hostOf(url).toLowerCase()
  if (isIP(host)) {
    if (isRefusedAddress(host)) throw new RefusedDestinationError(`refused destination ${host}`)
    return url
  }
  if (host === 'localhost' || host.endsWith('.localhost')) throw new RefusedDestinationError('refused destination')
  let addresses: LookupAddress[] = []
  try {
    addresses = await (options.resolve ?? systemResolver)(host)
  } catch {
    return url
  }
  const bad = addresses.find((a) => isRefusedAddress(a.address))
  if (bad) throw new RefusedDestinationError(`refused destination: ${host} resolves to ${bad.address}`)
  return url
}

/**
 * A `lookup` for node:http that resolves and checks in one step, so the address connected to
 * is the address checked: a name that resolved to a public address at creation and to
 * 127.0.0.1 now (DNS rebinding) is refused here.
 */
export const checkedLookup =
  (options: { allowPrivate: boolean; resolve?: Resolver }) =>
  (
    hostname: string,
    opts: { all?: boolean },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    const literal = isIP(hostname)
    const found = literal
      ? Promise.resolve([{ address: hostname, family: literal }])
      : (options.resolve ?? systemResolver)(hostname)
    found.then(
      (addresses) => {
        const usable = options.allowPrivate ? addresses : addresses.filter((a) => !isRefusedAddress(a.address))
        const first = usable[0]
        if (!first) {
          const what = addresses.map((a) => a.address).join(', ') || 'nothing'
          return callback(new RefusedDestinationError(`refused destination: ${hostname} resolves to ${what}`), '', 4)
        }
        if (opts.all) callback(null, usable)
        else callback(null, first.address, first.family)
      },
      (err: Error) => callback(err, '', 4),
    )
  }
