export * from './config';
export * from './controller';
export { AimdLimiter } from './limiter';
export type { LimitChangeCause, LimiterSample, SampleKind, SaturationSignal } from './limiter';
export { PriorityWaitQueue } from './priority-queue';
export type { QueueEntry } from './priority-queue';
export { DrainMeter } from './drain-meter';
export * from './saturation';
