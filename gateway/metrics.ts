import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The gateway's Prometheus metrics. One registry per gateway (not the
 * prom-client global), so several gateways can live in one process (tests).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly sessionsOpen = new Gauge({
    name: 'vmgate_sessions_open',
    help: 'Sessions currently open',
    registers: [this.registry],
  });
  readonly sessionsOpened = new Counter({
    name: 'vmgate_sessions_opened_total',
    help: 'Sessions opened since start',
    registers: [this.registry],
  });
  readonly sessionsClosed = new Counter({
    name: 'vmgate_sessions_closed_total',
    help: 'Sessions closed, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly upgradesRefused = new Counter({
    name: 'vmgate_upgrades_refused_total',
    help: 'WebSocket upgrades refused, by HTTP status',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly evals = new Counter({
    name: 'vmgate_evals_total',
    help: 'Evaluations finished, by outcome (ok or an error code)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly evalDuration = new Histogram({
    name: 'vmgate_eval_duration_seconds',
    help: 'Wall-clock duration of evaluations',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: 'vmgate_frames_in_total',
    help: 'Frames received',
    registers: [this.registry],
  });
  readonly framesOut = new Counter({
    name: 'vmgate_frames_out_total',
    help: 'Frames sent',
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'vmgate_bytes_in_total',
    help: 'Payload bytes received',
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'vmgate_bytes_out_total',
    help: 'Payload bytes sent',
    registers: [this.registry],
  });
  readonly framesRateLimited = new Counter({
    name: 'vmgate_frames_rate_limited_total',
    help: 'Client frames refused by the per-connection rate limits',
    registers: [this.registry],
  });
  readonly framesDropped = new Counter({
    name: 'vmgate_frames_dropped_total',
    help: 'Log frames dropped because the client was not reading or the memory budget was full',
    registers: [this.registry],
  });
  readonly memoryBudgetUsed = new Gauge({
    name: 'vmgate_memory_budget_used_bytes',
    help: 'Bytes of frames held for clients (send queues and resume buffers)',
    registers: [this.registry],
  });
  readonly memoryBudgetLimit = new Gauge({
    name: 'vmgate_memory_budget_limit_bytes',
    help: 'The gateway-wide memory budget for frames held for clients',
    registers: [this.registry],
  });
  readonly sessionsDetached = new Gauge({
    name: 'vmgate_sessions_detached',
    help: 'Sessions waiting to be resumed',
    registers: [this.registry],
  });
  readonly dbConnectionsBound = new Gauge({
    name: 'vmgate_db_connections_bound',
    help: 'Database connections currently bound to sessions',
    registers: [this.registry],
  });

  constructor() {
    // Process memory, CPU, event-loop lag (nodejs_eventloop_lag_seconds), GC.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }
}
