import type { DataConverter } from '@temporalio/common';
import { loadOrCreateDevKeyring, type Keyring } from '../activities/crypto/sealing';
import type { Config } from '../config';
import type { Logger } from '../logging';
import { AesGcmPayloadCodec } from './codec';

/** The payload codec's keys: CODEC_KEYS, or (development) a key file in the data folder. */
export function codecKeyring(config: Config, logger?: Logger): Keyring {
  return loadOrCreateDevKeyring(config.codecKeys, { dataDir: config.dataDirAbsolute, fileName: 'codec-keys.json', settingName: 'CODEC_KEYS', logger });
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
