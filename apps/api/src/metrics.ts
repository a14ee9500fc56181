import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** One registry per app instance, so tests can build several apps in one process. */
export const createMetrics = () => {
  const registry = new Registry()
  // The lag monitor's default 10 ms timer wakes an idle process 100 times a second (about
  // 0.4 CPU-s/min, measured by the idle bench); 100 ms still catches every stall worth seeing.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 })
  return {
    registry,
    sseConnections: new Gauge({
      name: 'dormant_sse_connections',
      help: 'Open SSE streams',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    eventsDelivered: new Counter({
      name: 'dormant_sse_events_delivered_total',
      help: 'Event frames written to SSE streams',
      registers: [registry],
    }),
    sseOverflows: new Counter({
      name: 'dormant_sse_overflow_closes_total',
      help: 'Streams closed because the client did not read fast enough',
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'dormant_http_request_duration_seconds',
      help: 'HTTP request durations',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
