import type { DataConverter } from '@temporalio/common';
import { keyringFromSetting, type Keyring } from '../activities/crypto/sealing';
import type { Settings } from '../config';
import { AesGcmPayloadCodec } from './codec';

/** The payload codec's keys: CODEC_KEYS (a ConfigError naming it when empty). */
export function codecKeyring(config: Pick<Settings, 'codecKeys'>): Keyring {
  return keyringFromSetting(config.codecKeys, 'CODEC_KEYS');
}

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
