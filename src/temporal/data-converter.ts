import type { DataConverter } from '@temporalio/common';
import type { Keyring } from '../activities/crypto/sealing';
import { AesGcmPayloadCodec } from './codec';

/**
 * The data converter every client and worker of the provider uses: encrypted payloads and
 * encoded failure attributes. The failure converter is given by path because workers load it
 * inside the workflow sandbox; clients load the same module.
 */
export function providerDataConverter(codecKeyring: Keyring): DataConverter {
  return {
    payloadCodecs: [new AesGcmPayloadCodec(codecKeyring)],
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}

export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');
