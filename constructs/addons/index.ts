export * from './charts';
export * from './nvidia-device-plugin';
export * from './metrics-server';
export * from './cluster-autoscaler';
export * from './cluster-autoscaler-role';
export * from './prometheus-adapter';
export * from './secrets-store-csi';
export * from './fluent-bit';
