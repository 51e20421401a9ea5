export * from './config';
export * from './lru';
export * from './request-key';
export * from './response-cache';
export * from './single-flight';
