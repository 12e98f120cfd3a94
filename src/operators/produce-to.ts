/**
 * `records$.pipe(produceTo(producer))`: send every record of a stream through a Producer and emit
 * each result (with the record's correlation value) — in order within each partition.
 */
import type { OperatorFunction } from 'rxjs';
import type { Producer } from '../producer/producer.js';
import type { ProducerRecord, ProducerResult } from '../producer/producer-record.js';

export function produceTo<C>(producer: Producer): OperatorFunction<ProducerRecord<C>, ProducerResult<C>> {
  return (records$) => producer.sendAll$(records$);
}
