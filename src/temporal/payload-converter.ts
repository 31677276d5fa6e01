/**
 * The provider's payload converter: the SDK's default, except that a payload the codec refused
 * (see refused-payload.ts) becomes a sentinel value instead of an error. Converting throws would
 * escape the workflow's failure handling (arguments are converted while the start is applied) and
 * retry the workflow task forever; the sentinel lets the interceptors fail the run cleanly.
 *
 * Loaded by path (DataConverter.payloadConverterPath) inside the workflow sandbox and directly by
 * activities and clients, so every side agrees.
 */
import { DefaultPayloadConverter, type Payload, type PayloadConverter } from '@temporalio/common';
import { sentinelFor } from './refused-payload';

class RefusalAwarePayloadConverter implements PayloadConverter {
  private readonly inner = new DefaultPayloadConverter();

  toPayload<T>(value: T): Payload {
    return this.inner.toPayload(value);
  }

  fromPayload<T>(payload: Payload): T {
    return (sentinelFor(payload) ?? this.inner.fromPayload<T>(payload)) as T;
  }
}

export const payloadConverter = new RefusalAwarePayloadConverter();
