import { type BusMessage, eventsChannel, type Logger } from '@dormant/core'
import type { Redis } from 'ioredis'
import type { StreamHub } from './hub.js'

/**
 * The one Redis subscription of this API process. Whenever it is (re)established the hub
 * reads what it missed from the events table, so an outage delays events but loses none.
 */
export const subscribeHub = async (
  subscriber: Redis,
  prefix: string,
  deployment: string,
  hub: StreamHub,
  log: Logger,
) => {
  const channel = eventsChannel(prefix)
  subscriber.on('message', (from: string, raw: string) => {
    if (from !== channel) return
    let message: BusMessage
    try {
      message = JSON.parse(raw) as BusMessage
    } catch (err) {
      log.warn({ err }, 'ignoring a malformed bus message')
      return
    }
    // Another deployment on this prefix (a shared Redis): its ids and users are not ours.
    if (message.d !== undefined && message.d !== deployment) return
    if (message.kind === 'events') hub.offer(message.events)
    else if (message.kind === 'upTo') hub.catchUp(message.id)
    else if (message.kind === 'sessions.revoked') hub.closeSessions(message.sessionIds)
    else if (message.kind === 'webhook.delivery') hub.toAdmins('webhook.delivery', message.delivery)
  })
  // Whether the connection was already up when we were called does not matter: the first
  // subscription is the awaited one below, and every 'ready' after it is a reconnect.
  let subscribed = false
  subscriber.on('ready', () => {
    if (!subscribed) return
    log.info('event subscription restored; catching up from the table')
    // Read the table only once Redis has the subscription again (SUBSCRIBE is idempotent):
    // reading at 'ready' would miss what is published before the resubscribe lands.
    subscriber.subscribe(channel).then(
      () => hub.catchUp(),
      (err) => log.warn({ err }, 'resubscribe failed'),
    )
  })
  await subscriber.subscribe(channel)
  subscribed = true
  hub.catchUp()
}
