import type { Channel } from 'amqplib';
import { PRIORITY_CLASSES } from '../../contract/priority';
import type { JobQueueTopology } from '../../contract/queue-topology';

/**
 * Channel I/O of the job topology; the topology itself (and which delay queue a retry takes) is
 * data in contract/queue-topology.ts.
 *
 * Declares the job topology (exchanges, class queues, delay queues, dead-letter queue) exactly
 * as the shared data describes it. Idempotent; a queue that exists with other arguments makes
 * the broker close the channel with PRECONDITION_FAILED, which surfaces as an error here.
 */
export async function declareTopology(channel: Channel, topology: JobQueueTopology): Promise<void> {
  await channel.assertExchange(topology.exchange, topology.exchangeType, { durable: true });
  await channel.assertExchange(topology.deadLetterExchange, topology.deadLetterExchangeType, { durable: true });
  for (const cls of PRIORITY_CLASSES) {
    const queue = topology.classQueues[cls];
    await channel.assertQueue(queue.name, { durable: true, arguments: { ...queue.arguments } });
    await channel.bindQueue(queue.name, topology.exchange, cls);
  }
  for (const queue of topology.retryQueues) {
    await channel.assertQueue(queue.name, { durable: true, arguments: { ...queue.arguments } });
  }
  const dead = topology.deadLetterQueue;
  await channel.assertQueue(dead.name, { durable: true, arguments: { ...dead.arguments } });
  await channel.bindQueue(dead.name, topology.deadLetterExchange, '');
}

/** Deletes everything {@link declareTopology} created (tests clean up their own prefix). */
export async function deleteTopology(channel: Channel, topology: JobQueueTopology): Promise<void> {
  const queues = [
    ...PRIORITY_CLASSES.map((cls) => topology.classQueues[cls].name),
    ...topology.retryQueues.map((q) => q.name),
    topology.deadLetterQueue.name,
  ];
  for (const name of queues) await channel.deleteQueue(name);
  await channel.deleteExchange(topology.exchange);
  await channel.deleteExchange(topology.deadLetterExchange);
}
