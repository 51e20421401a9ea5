import type { ChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import type { JobQueueTopology } from '../../contract/queue-topology';
import { ConfirmedPublisher, ReconnectingAmqp } from './amqp';
import type { BackoffOptions } from '../common/backoff';
import { encodeJobMessage, JobMessage } from './model';
import { declareTopology } from './topology';

/** Thrown at once (no waiting) when no broker connection is up. */
export class BrokerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerUnavailableError';
  }
}

export interface JobPublisherOptions {
  /** amqp:// URL of the broker. */
  readonly url: string;
  /** The queue topology to declare and publish into. */
  readonly topology: JobQueueTopology;
  /** Connection name shown by the broker. @default 'surgeguard-publisher' */
  readonly connectionName?: string;
  /** How long to wait for the broker's confirm before failing the publish. @default 5000 */
  readonly confirmTimeoutMs?: number;
  /** Reconnect backoff. @default { baseMs: 200, capMs: 10000 } */
  readonly backoff?: BackoffOptions;
  readonly logger?: Logger;
}

/**
 * Publishes job messages durably: persistent, on a confirm channel, resolved only after the
 * broker's confirm. When the broker is unreachable `publish` fails immediately with
 * {@link BrokerUnavailableError} (the caller answers 503) while the connection comes back in
 * the background with backoff.
 */
export class JobPublisher {
  private publisher: ConfirmedPublisher | undefined;
  private readonly amqp: ReconnectingAmqp;
  private readonly confirmTimeoutMs: number;

  constructor(private readonly options: JobPublisherOptions) {
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 5_000;
    const log = options.logger;
    this.amqp = new ReconnectingAmqp({
      url: options.url,
      connectionName: options.connectionName ?? 'surgeguard-publisher',
      backoff: options.backoff,
      onConnect: (connection) => this.setUp(connection),
      onDisconnect: (err) => {
        this.publisher = undefined;
        log?.warn({ err: err?.message }, 'job publisher lost the broker connection; reconnecting');
      },
      onConnectError: (err, attempt) => log?.warn({ err: err.message, attempt }, 'job publisher cannot reach the broker'),
    });
    this.amqp.on('connected', () => log?.info('job publisher connected to the broker'));
  }

  start(): void {
    this.amqp.start();
  }

  get ready(): boolean {
    return this.amqp.connected && this.publisher !== undefined;
  }

  waitReady(timeoutMs: number): Promise<void> {
    return this.amqp.waitConnected(timeoutMs);
  }

  /** Publishes one job to its class; resolves after the broker's confirm. */
  async publish(message: JobMessage, encoded: Buffer = encodeJobMessage(message)): Promise<void> {
    const publisher = this.amqp.connected ? this.publisher : undefined;
    if (!publisher) {
      const why = this.amqp.lastError?.message ?? 'not connected yet';
      throw new BrokerUnavailableError(`job queue unavailable (${why})`);
    }
    await publisher.publish(
      this.options.topology.exchange,
      message.priorityClass,
      encoded,
      {
        persistent: true,
        messageId: message.id,
        contentType: 'application/json',
        timestamp: Math.floor(message.submittedAt / 1000),
        type: 'surgeguard.job',
      },
      this.confirmTimeoutMs,
    );
  }

  async close(): Promise<void> {
    this.publisher = undefined;
    await this.amqp.close();
  }

  private async setUp(connection: ChannelModel): Promise<void> {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined); // reported through 'close'
    channel.on('close', () => {
      // A channel-level error (e.g. a refused declaration) leaves the connection open:
      // close it so the reconnect loop builds a fresh, fully set-up one.
      if (this.publisher?.channel === channel) this.publisher = undefined;
      void connection.close().catch(() => undefined);
    });
    await declareTopology(channel, this.options.topology);
    this.publisher = new ConfirmedPublisher(channel);
  }
}
