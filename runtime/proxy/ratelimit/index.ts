export * from './config';
export * from './rate-limiter';
export * from './redis-script';
export * from './token-bucket';
export * from './tokens';
