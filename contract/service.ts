/**
 * What the infrastructure and the runtimes must agree on about the services: ports, health
 * paths, and the Kubernetes names (namespaces, workloads, PriorityClasses) they run under.
 * The Kubernetes workloads, load balancer health checks, IRSA trust policies and the runtimes
 * all import these values, so a change in one place cannot leave the others probing the wrong
 * path or trusting the wrong service account.
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
  /** Seconds between SIGTERM and the kill of a proxy pod (its drain runs inside them). */
  terminationGracePeriodSeconds: 60,
} as const;

export const WORKER_CONTRACT = {
  /** Port of the worker's health and metrics server. */
  port: 9090,
  healthPath: '/healthz',
  readyPath: '/readyz',
  metricsPath: '/metrics',
  /** Seconds between SIGTERM and the kill of a worker pod, unless the cell sets its own. */
  terminationGracePeriodSeconds: 60,
  /**
   * Seconds before the kill by which the worker has given its unfinished jobs back to the queue:
   * its rendered `drainTimeoutMs` is the grace period less this margin (for the nacks and the close).
   */
  drainMarginSeconds: 15,
} as const;

export const MODEL_SERVER_CONTRACT = {
  /** Port of the OpenAI-compatible model server (vLLM default). */
  port: 8000,
  healthPath: '/health',
  metricsPath: '/metrics',
} as const;

/** Namespaces of a cell and their Pod Security level. */
export const NAMESPACES = {
  /** Proxy and worker. */
  app: { name: 'surgeguard', podSecurity: 'restricted' },
  /** Model servers on the GPU nodes. */
  inference: { name: 'surgeguard-inference', podSecurity: 'baseline' },
  /** Prometheus, alerting, log shipping (node exporters need host access). */
  monitoring: { name: 'surgeguard-monitoring', podSecurity: 'privileged' },
} as const;

/**
 * Names of the workloads of a cell (Deployment, Service and ServiceAccount names; the IRSA roles
 * trust `system:serviceaccount:<namespace>:<name>`), their PriorityClasses and the Secret the
 * runtimes read their secrets from.
 */
export const WORKLOAD_NAMES = {
  proxy: 'surgeguard-proxy',
  worker: 'surgeguard-worker',
  modelServer: 'surgeguard-model-server',
  priorityClasses: { gateway: 'surgeguard-gateway', serving: 'surgeguard-serving', batch: 'surgeguard-batch' },
  runtimeSecret: 'surgeguard-runtime-secrets',
} as const;
