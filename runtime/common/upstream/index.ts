/**
 * The upstream layer shared by the proxy and the worker: pools of OpenAI-compatible upstreams,
 * balancers, circuit breakers, outlier detection, active health checks, retry budget
 * and the dispatcher composing them. No dependency on any HTTP server.
 */
export * from './balancers';
export * from './circuit-breaker';
export * from './dispatcher';
export * from './events';
export * from './health-checker';
export * from './health-state';
export * from './http-client';
export * from './outlier-detector';
export * from './discovery';
export * from './resolver';
export * from './retry-budget';
export * from './upstream';
export * from './upstream-pool';
