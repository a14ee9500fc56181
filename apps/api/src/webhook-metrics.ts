import { type Db, webhookDeliveryStats } from '@dormant/db'
import { Gauge, type Registry } from 'prom-client'

/**
 * Webhook gauges read from the delivery table at scrape time: the table is shared by every
 * process, so any API process reports the same totals (no double counting across processes).
 */
export const registerWebhookMetrics = (registry: Registry, db: Db) => {
  new Gauge({
    name: 'dormant_webhook_deliveries',
    help: 'Webhook deliveries by outcome (pending, delivered, failed)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const { byStatus } = await webhookDeliveryStats(db)
      for (const [status, n] of Object.entries(byStatus)) this.set({ status }, n)
    },
  })
  new Gauge({
    name: 'dormant_webhook_delivery_lag_seconds',
    help: 'Age of the oldest webhook attempt that is due and not yet made (0 when caught up)',
    registers: [registry],
    async collect() {
      this.set((await webhookDeliveryStats(db)).dueLagMs / 1000)
    },
  })
}
