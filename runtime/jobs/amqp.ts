import { EventEmitter } from 'node:events';
import * as amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { backoffMs, RECONNECT_MIN_SHARE, type BackoffOptions } from '../common/backoff';

/**
 * One AMQP connection that comes back by itself: connects in the background, and after the
 * connection drops (broker restart, `rabbitmqctl close_connection`, network) reconnects with
 * exponential backoff and jitter. Users set themselves up in `onConnect` (channels, topology,
 * consumers); that runs again after every reconnect. Nothing here blocks a caller: whether
 * the broker is reachable right now is `connected`.
 */
export interface ReconnectingAmqpOptions {
  /** amqp:// or amqps:// URL. */
  readonly url: string;
  /** Shows in `rabbitmqctl list_connections client_properties` (and lets tests find it). */
  readonly connectionName: string;
  /** Reconnect backoff. @default { baseMs: 200, capMs: 10000 } */
  readonly backoff?: BackoffOptions;
  /** Heartbeat in seconds, so a dead TCP peer is noticed. @default 15 */
  readonly heartbeatSeconds?: number;
  /** Called with each new connection; a throw closes it and schedules a reconnect. */
  readonly onConnect: (connection: ChannelModel) => Promise<void>;
  /** Called when a connection is lost (not after `close()`). */
  readonly onDisconnect?: (error: Error | undefined) => void;
  /** Called when a connection attempt fails. */
  readonly onConnectError?: (error: Error, attempt: number) => void;
}

export class ReconnectingAmqp extends EventEmitter {
  private connection: ChannelModel | undefined;
  private ready = false;
  private closing = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastErrorValue: Error | undefined;
  private readonly backoff: BackoffOptions;

  constructor(private readonly options: ReconnectingAmqpOptions) {
    super();
    this.backoff = options.backoff ?? { baseMs: 200, capMs: 10_000 };
  }

  /** True while a connection is open and `onConnect` has completed on it. */
  get connected(): boolean {
    return this.ready;
  }

  /** The last connection error, for "why is the broker unavailable" messages. */
  get lastError(): Error | undefined {
    return this.lastErrorValue;
  }

  start(): void {
    this.closing = false;
    if (!this.connection && !this.timer) void this.connect();
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new Error(`AMQP: not connected within ${timeoutMs} ms: ${this.lastErrorValue?.message ?? 'no error seen'}`));
      }, timeoutMs);
      const onConnected = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once('connected', onConnected);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const connection = this.connection;
    this.connection = undefined;
    this.ready = false;
    if (connection) await connection.close().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    if (this.closing) return;
    let connection: ChannelModel;
    try {
      const target: Options.Connect | string = this.options.url;
      connection = await amqp.connect(target, {
        clientProperties: { connection_name: this.options.connectionName },
        heartbeat: this.options.heartbeatSeconds ?? 15,
        timeout: 5_000,
      });
    } catch (err) {
      this.onFailure(asError(err));
      return;
    }
    if (this.closing) {
      await connection.close().catch(() => undefined);
      return;
    }
    this.connection = connection;
    connection.on('error', (err: Error) => {
      this.lastErrorValue = err;
    });
    connection.on('close', (err?: Error) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      const wasReady = this.ready;
      this.ready = false;
      if (err) this.lastErrorValue = err;
      if (this.closing) return;
      if (wasReady) this.options.onDisconnect?.(err);
      this.emit('disconnected', err);
      this.schedule();
    });
    try {
      await this.options.onConnect(connection);
    } catch (err) {
      this.lastErrorValue = asError(err);
      this.options.onConnectError?.(this.lastErrorValue, this.attempt);
      // The close handler schedules the reconnect.
      await connection.close().catch(() => undefined);
      return;
    }
    if (this.connection !== connection) return; // dropped while setting up
    this.attempt = 0;
    this.ready = true;
    this.emit('connected', connection);
  }

  private onFailure(err: Error): void {
    this.lastErrorValue = err;
    this.options.onConnectError?.(err, this.attempt);
    this.schedule();
  }

  private schedule(): void {
    if (this.closing || this.timer) return;
    const delay = backoffMs(this.attempt++, { ...this.backoff, minShare: RECONNECT_MIN_SHARE });
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }
}

export class PublishError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishError';
  }
}

/**
 * A confirm channel that publishes and resolves only when the broker confirmed the message
 * (for a quorum queue: written on a majority of nodes). Rejects on nack, on an unroutable
 * message (returned, with `mandatory`), on channel close, or after `timeoutMs`.
 */
export class ConfirmedPublisher {
  private readonly returned = new Set<string>();

  constructor(readonly channel: ConfirmChannel) {
    channel.on('return', (msg: { properties: { messageId?: string } }) => {
      if (msg.properties.messageId) this.returned.add(msg.properties.messageId);
    });
  }

  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish & { messageId: string },
    timeoutMs: number,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new PublishError(`broker did not confirm message ${options.messageId} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      try {
        this.channel.publish(exchange, routingKey, content, { ...options, mandatory: true }, (err) => {
          // A basic.return precedes the basic.ack of the same message.
          const wasReturned = this.returned.delete(options.messageId);
          if (err) finish(new PublishError(`broker refused message ${options.messageId}: ${asError(err).message}`));
          else if (wasReturned) {
            finish(new PublishError(`message ${options.messageId} was unroutable (${exchange || 'default exchange'} -> ${routingKey})`));
          } else finish();
        });
      } catch (err) {
        finish(new PublishError(`publish failed: ${asError(err).message}`));
      }
    });
  }
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
