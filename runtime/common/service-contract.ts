/**
 * What the infrastructure and the runtimes must agree on: ports and health paths.
 * The Kubernetes workloads, load balancer health checks and the runtimes all import
 * these values, so a change in one place cannot leave the others probing the wrong path.
 */
export const PROXY_CONTRACT = {
  /** Port the proxy's HTTP server listens on inside its pod. */
  port: 8080,
  /** NodePort the ALB target group forwards to on every CPU node. */
  nodePort: 30080,
  /** Liveness: the process is alive. */
  healthPath: '/healthz',
  /** Readiness: at least one healthy upstream and not draining. */
  readyPath: '/readyz',
  /** Prometheus metrics. */
  metricsPath: '/metrics',
} as const;

export const WORKER_CONTRACT = {
  /** Port of the worker's health and metrics server. */
  port: 9090,
  healthPath: '/healthz',
  readyPath: '/readyz',
  metricsPath: '/metrics',
} as const;

export const MODEL_SERVER_CONTRACT = {
  /** Port of the OpenAI-compatible model server (vLLM default). */
  port: 8000,
  healthPath: '/health',
  metricsPath: '/metrics',
} as const;
